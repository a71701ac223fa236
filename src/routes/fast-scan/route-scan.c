/* Byte scanner for route lines of the shape the capture writes; compiled to WebAssembly
 * (route-scan.wasm beside this file, by scripts/build-wasm.sh) and driven by fast-row.ts here.
 *
 * Contract (the same as documented in fast-row.ts): a line is ACCEPTED (rec_ok = 1) only when it
 * is one JSON object whose keys are the route schema's (type, req_id, token_idx, layer, topk_ids,
 * topk_weights, phase, token_id, step), each at most once, in any order, with JSON whitespace
 * between tokens, plus extra keys whose values are strings without escapes, numbers, true, false
 * or null (checked for JSON syntax, then ignored); whose values are of the plain forms the capture
 * writes (strings without escapes; non-negative integers of at most 15 digits, no sign, fraction
 * or exponent; weights that convert exactly by Clinger's fast path); and that is valid under the
 * log's rules (type "route", layer logged, top_k distinct ids below the limit, top_k weights in
 * [0, 1], phase prefill or decode). Every other line gets rec_ok = 0 and goes to JSON.parse and the
 * zod path in JavaScript, which decide and word it. The scanner never rejects a line.
 *
 * No libc: freestanding C, static buffers, no allocation. */

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;

#define IN_CAP (1u << 20)   /* bytes of input per call (the line reader's chunk) */
#define MAXREC 8192u        /* lines per call */
#define MAXK 16             /* largest top_k the fast path takes */
#define MAX_DIGITS 15       /* below 2^53: exact doubles */

static u8 in_buf[IN_CAP + 64];
static u8 layer_ok[65537];
static u32 rec_end[MAXREC];
static u8 rec_ok[MAXREC];
static u32 rec_req_s[MAXREC];
static u32 rec_req_e[MAXREC];
static double rec_tok[MAXREC];
static int rec_layer[MAXREC];
static int rec_ids[MAXREC * MAXK];
static double rec_w[MAXREC * MAXK];
static u8 rec_phase[MAXREC];       /* 0 absent, 1 prefill, 2 decode */
static double rec_token_id[MAXREC]; /* -1 absent */
static double rec_step[MAXREC];     /* -1 absent */

/* req_id interning: each distinct req_id's bytes get a dense id (order of first acceptance);
 * the caller maps ids to its request indices. When the arena or table is full, lines with new
 * req_ids are left to the slow path (correct, only slower). */
#define ARENA_CAP (8u << 20)
#define TABLE_BITS 20
#define MAX_IDS (1u << (TABLE_BITS - 1))
static u8 arena[ARENA_CAP];
static u32 arena_used = 0;
static u32 id_start[MAX_IDS];
static u32 id_len[MAX_IDS];
static int id_table[1u << TABLE_BITS]; /* id + 1; 0 = empty */
static u32 n_ids = 0;
static int rec_req[MAXREC];       /* interned id of the row's req_id */

static int K = 0;
static int LIMIT = 0;
static int MAXLAYER = -1;

static const double POW10[23] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#define EXPORT __attribute__((visibility("default")))

EXPORT u8 *in_ptr(void) { return in_buf; }
EXPORT u32 in_cap(void) { return IN_CAP; }
EXPORT u32 max_records(void) { return MAXREC; }
EXPORT int max_k(void) { return MAXK; }
EXPORT u8 *layer_ok_ptr(void) { return layer_ok; }
EXPORT u32 *rec_end_ptr(void) { return rec_end; }
EXPORT u8 *rec_ok_ptr(void) { return rec_ok; }
EXPORT u32 *rec_req_s_ptr(void) { return rec_req_s; }
EXPORT int *rec_req_ptr(void) { return rec_req; }
EXPORT u32 ids_count(void) { return n_ids; }
EXPORT u32 *rec_req_e_ptr(void) { return rec_req_e; }
EXPORT double *rec_tok_ptr(void) { return rec_tok; }
EXPORT int *rec_layer_ptr(void) { return rec_layer; }
EXPORT int *rec_ids_ptr(void) { return rec_ids; }
EXPORT double *rec_w_ptr(void) { return rec_w; }
EXPORT u8 *rec_phase_ptr(void) { return rec_phase; }
EXPORT double *rec_token_id_ptr(void) { return rec_token_id; }
EXPORT double *rec_step_ptr(void) { return rec_step; }

/* k = top_k, limit = exclusive bound on expert ids, max_layer = largest logged layer (layer_ok
 * filled by the caller). Returns 0 when the fast path cannot serve these rules. */
EXPORT int configure(int k, int limit, int max_layer) {
  if (k < 1 || k > MAXK || max_layer < 0 || max_layer > 65535) return 0;
  K = k;
  LIMIT = limit;
  MAXLAYER = max_layer;
  return 1;
}

#define WS(c) ((c) == ' ' || (c) == '\t' || (c) == '\r')
#define DIGIT(c) ((u32)((c) - '0') <= 9u)

enum {
  K_TYPE = 1, K_REQ_ID = 2, K_TOKEN_IDX = 4, K_LAYER = 8, K_TOPK_IDS = 16, K_TOPK_WEIGHTS = 32,
  K_PHASE = 64, K_TOKEN_ID = 128, K_STEP = 256, K_OTHER = 1024
};
#define REQUIRED (K_TYPE | K_REQ_ID | K_TOKEN_IDX | K_LAYER | K_TOPK_IDS | K_TOPK_WEIGHTS)

static int eq(const u8 *p, const char *lit, int n) {
  for (int i = 0; i < n; i++)
    if (p[i] != (u8)lit[i]) return 0;
  return 1;
}

static int key_code(const u8 *s, int n) {
  switch (n) {
    case 4: return eq(s, "type", 4) ? K_TYPE : eq(s, "step", 4) ? K_STEP : K_OTHER;
    case 5: return eq(s, "layer", 5) ? K_LAYER : eq(s, "phase", 5) ? K_PHASE : K_OTHER;
    case 6: return eq(s, "req_id", 6) ? K_REQ_ID : K_OTHER;
    case 8: return eq(s, "topk_ids", 8) ? K_TOPK_IDS : eq(s, "token_id", 8) ? K_TOKEN_ID : K_OTHER;
    case 9: return eq(s, "token_idx", 9) ? K_TOKEN_IDX : K_OTHER;
    case 12: return eq(s, "topk_weights", 12) ? K_TOPK_WEIGHTS : K_OTHER;
    default: return K_OTHER;
  }
}

/* Plain non-negative integer at *pp; -1 when not of that form. */
static double uint_at(const u8 **pp) {
  const u8 *p = *pp;
  u8 c = *p;
  if (!DIGIT(c)) return -1;
  if (c == '0') {
    c = p[1];
    if (DIGIT(c) || c == '.' || (c | 0x20) == 'e') return -1;
    *pp = p + 1;
    return 0;
  }
  u64 v = 0;
  const u8 *end = p + MAX_DIGITS;
  while (DIGIT(c)) {
    if (p == end) return -1;
    v = v * 10 + (u64)(c - '0');
    c = *++p;
  }
  if (c == '.' || (c | 0x20) == 'e') return -1;
  *pp = p;
  return (double)v;
}

/* Unsigned JSON number converted exactly as JSON.parse does, or -1 when not vouched for. */
static double weight_at(const u8 **pp) {
  const u8 *p = *pp;
  u64 m = 0; /* at most 15 significant digits: exact, and exact as a double */
  int digits = 0, scale = 0;
  u8 c = *p;
  if (!DIGIT(c)) return -1;
  if (c == '0') {
    c = *++p;
    if (DIGIT(c)) return -1;
  } else {
    while (DIGIT(c)) {
      if (++digits > MAX_DIGITS) return -1;
      m = m * 10 + (u64)(c - '0');
      c = *++p;
    }
  }
  if (c == '.') {
    c = *++p;
    if (!DIGIT(c)) return -1;
    while (DIGIT(c)) {
      if ((m != 0 || c != '0') && ++digits > MAX_DIGITS) return -1;
      m = m * 10 + (u64)(c - '0');
      scale++;
      c = *++p;
    }
  }
  int exp = 0;
  if ((c | 0x20) == 'e') {
    c = *++p;
    int neg = 0;
    if (c == '-' || c == '+') {
      neg = c == '-';
      c = *++p;
    }
    if (!DIGIT(c)) return -1;
    int n = 0;
    while (DIGIT(c)) {
      if (++n > 4) return -1;
      exp = exp * 10 + (c - '0');
      c = *++p;
    }
    if (neg) exp = -exp;
  }
  *pp = p;
  if (m == 0) return 0;
  double dm = (double)m;
  int e10 = exp - scale;
  if (e10 == 0) return dm;
  if (e10 > 0) return e10 <= 22 ? dm * POW10[e10] : -1;
  return e10 >= -22 ? dm / POW10[-e10] : -1;
}

/* String without escapes or control characters at *pp (which points at its opening quote). */
static int string_at(const u8 **pp, const u8 **s, const u8 **e) {
  const u8 *p = *pp + 1;
  *s = p;
  u8 c = *p;
  while (c != '"') {
    if (c == '\\' || c < 0x20) return 0;
    c = *++p;
  }
  *e = p;
  *pp = p + 1;
  return 1;
}

static int skip_simple(const u8 **pp) {
  const u8 *p = *pp;
  u8 c = *p;
  if (c == '"') {
    const u8 *s, *e;
    return string_at(pp, &s, &e);
  }
  if (c == 't') { if (!eq(p, "true", 4)) return 0; *pp = p + 4; return 1; }
  if (c == 'f') { if (!eq(p, "false", 5)) return 0; *pp = p + 5; return 1; }
  if (c == 'n') { if (!eq(p, "null", 4)) return 0; *pp = p + 4; return 1; }
  if (c == '-') c = *++p;
  if (c == '0') c = *++p;
  else if (c >= '1' && c <= '9') while (DIGIT(c)) c = *++p;
  else return 0;
  if (c == '.') {
    c = *++p;
    if (!DIGIT(c)) return 0;
    while (DIGIT(c)) c = *++p;
  }
  if ((c | 0x20) == 'e') {
    c = *++p;
    if (c == '-' || c == '+') c = *++p;
    if (!DIGIT(c)) return 0;
    while (DIGIT(c)) c = *++p;
  }
  *pp = p;
  return 1;
}

/* The id of req_id bytes [s, e), interned on first sight; -1 when there is no room. */
static int intern(const u8 *s, const u8 *e) {
  u32 n = (u32)(e - s);
  u32 h = 0x811c9dc5u;
  for (const u8 *q = s; q < e; q++) h = (h ^ *q) * 0x01000193u;
  u32 mask = (1u << TABLE_BITS) - 1;
  u32 slot = h & mask;
  for (;;) {
    int x = id_table[slot];
    if (x == 0) break;
    u32 id = (u32)(x - 1);
    if (id_len[id] == n) {
      const u8 *a = arena + id_start[id];
      u32 i = 0;
      while (i < n && a[i] == s[i]) i++;
      if (i == n) return (int)id;
    }
    slot = (slot + 1) & mask;
  }
  if (n_ids >= MAX_IDS || arena_used + n > ARENA_CAP) return -1;
  for (u32 i = 0; i < n; i++) arena[arena_used + i] = s[i];
  id_start[n_ids] = arena_used;
  id_len[n_ids] = n;
  arena_used += n;
  id_table[slot] = (int)n_ids + 1;
  return (int)n_ids++;
}

/* One line starting at p (a '\n' follows within the input). Accepted into record r: returns the
 * position just past its '\n'; otherwise 0. */
static const u8 *parse_line(const u8 *p, u32 r) {
  int seen = 0;
  rec_phase[r] = 0;
  rec_token_id[r] = -1;
  rec_step[r] = -1;
  while (WS(*p)) p++;
  if (*p != '{') return 0;
  p++;
  while (WS(*p)) p++;
  for (;;) {
    if (*p != '"') return 0;
    const u8 *ks, *ke;
    if (!string_at(&p, &ks, &ke)) return 0;
    int key = key_code(ks, (int)(ke - ks));
    if (key != K_OTHER) {
      if (seen & key) return 0;
      seen |= key;
    }
    while (WS(*p)) p++;
    if (*p != ':') return 0;
    p++;
    while (WS(*p)) p++;
    switch (key) {
      case K_TYPE:
        if (!eq(p, "\"route\"", 7)) return 0;
        p += 7;
        break;
      case K_REQ_ID: {
        if (*p != '"') return 0;
        const u8 *s, *e;
        if (!string_at(&p, &s, &e)) return 0;
        rec_req_s[r] = (u32)(s - in_buf);
        rec_req_e[r] = (u32)(e - in_buf);
        break;
      }
      case K_TOKEN_IDX: {
        double v = uint_at(&p);
        if (v < 0) return 0;
        rec_tok[r] = v;
        break;
      }
      case K_LAYER: {
        double v = uint_at(&p);
        if (v < 0 || v > MAXLAYER || !layer_ok[(int)v]) return 0;
        rec_layer[r] = (int)v;
        break;
      }
      case K_TOPK_IDS: {
        if (*p != '[') return 0;
        p++;
        while (WS(*p)) p++;
        int *ids = rec_ids + r * MAXK;
        int n = 0;
        if (*p == ']') return 0;
        for (;;) {
          if (n == K) return 0;
          double v = uint_at(&p);
          if (v < 0 || v >= LIMIT) return 0;
          int id = (int)v;
          for (int j = 0; j < n; j++)
            if (ids[j] == id) return 0;
          ids[n++] = id;
          while (WS(*p)) p++;
          if (*p == ',') {
            p++;
            while (WS(*p)) p++;
            continue;
          }
          if (*p != ']') return 0;
          p++;
          break;
        }
        if (n != K) return 0;
        break;
      }
      case K_TOPK_WEIGHTS: {
        if (*p != '[') return 0;
        p++;
        while (WS(*p)) p++;
        double *ws = rec_w + r * MAXK;
        int n = 0;
        if (*p == ']') return 0;
        for (;;) {
          if (n == K) return 0;
          double w = weight_at(&p);
          if (!(w >= 0 && w <= 1)) return 0;
          ws[n++] = w;
          while (WS(*p)) p++;
          if (*p == ',') {
            p++;
            while (WS(*p)) p++;
            continue;
          }
          if (*p != ']') return 0;
          p++;
          break;
        }
        if (n != K) return 0;
        break;
      }
      case K_PHASE:
        if (eq(p, "\"prefill\"", 9)) { rec_phase[r] = 1; p += 9; }
        else if (eq(p, "\"decode\"", 8)) { rec_phase[r] = 2; p += 8; }
        else return 0;
        break;
      case K_TOKEN_ID: {
        double v = uint_at(&p);
        if (v < 0) return 0;
        rec_token_id[r] = v;
        break;
      }
      case K_STEP: {
        double v = uint_at(&p);
        if (v < 0) return 0;
        rec_step[r] = v;
        break;
      }
      default:
        if (!skip_simple(&p)) return 0;
    }
    while (WS(*p)) p++;
    if (*p == ',') {
      p++;
      while (WS(*p)) p++;
      continue;
    }
    if (*p != '}') return 0;
    p++;
    break;
  }
  if ((seen & REQUIRED) != REQUIRED) return 0;
  while (WS(*p)) p++;
  if (*p != '\n') return 0;
  int id = intern(in_buf + rec_req_s[r], in_buf + rec_req_e[r]);
  if (id < 0) return 0;
  rec_req[r] = id;
  return p + 1;
}

/* Bytes p[0..n) equal the literal s (8 bytes at a time). */
static inline int lit(const u8 *p, const char *s, int n) {
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    u64 a, b;
    __builtin_memcpy(&a, p + i, 8);
    __builtin_memcpy(&b, s + i, 8);
    if (a != b) return 0;
  }
  for (; i < n; i++)
    if (p[i] != (u8)s[i]) return 0;
  return 1;
}

#define LIT(p, s) lit((p), (s), (int)sizeof(s) - 1)

/* The exact layout the capture writes (keys in its order, no whitespace; phase, token_id and step
 * optional, in any order): the common case, read without key scanning. 0 when the line is laid out
 * any other way (the caller then runs parse_line, which decides). Accepts only what parse_line accepts. */
static const u8 *parse_template(const u8 *p, u32 r) {
  if (!LIT(p, "{\"type\":\"route\",\"req_id\":\"")) return 0;
  p += sizeof("{\"type\":\"route\",\"req_id\":\"") - 1;
  const u8 *s = p;
  u8 c = *p;
  while (c != '"') {
    if (c == '\\' || c < 0x20) return 0;
    c = *++p;
  }
  rec_req_s[r] = (u32)(s - in_buf);
  rec_req_e[r] = (u32)(p - in_buf);
  p++;
  if (!LIT(p, ",\"token_idx\":")) return 0;
  p += sizeof(",\"token_idx\":") - 1;
  double v = uint_at(&p);
  if (v < 0) return 0;
  rec_tok[r] = v;
  if (!LIT(p, ",\"layer\":")) return 0;
  p += sizeof(",\"layer\":") - 1;
  v = uint_at(&p);
  if (v < 0 || v > MAXLAYER || !layer_ok[(int)v]) return 0;
  rec_layer[r] = (int)v;
  if (!LIT(p, ",\"topk_ids\":[")) return 0;
  p += sizeof(",\"topk_ids\":[") - 1;
  int *ids = rec_ids + r * MAXK;
  for (int n = 0; n < K; n++) {
    if (n > 0) {
      if (*p != ',') return 0;
      p++;
    }
    v = uint_at(&p);
    if (v < 0 || v >= LIMIT) return 0;
    int id = (int)v;
    for (int j = 0; j < n; j++)
      if (ids[j] == id) return 0;
    ids[n] = id;
  }
  if (!LIT(p, "],\"topk_weights\":[")) return 0;
  p += sizeof("],\"topk_weights\":[") - 1;
  double *ws = rec_w + r * MAXK;
  for (int n = 0; n < K; n++) {
    if (n > 0) {
      if (*p != ',') return 0;
      p++;
    }
    double w = weight_at(&p);
    if (!(w >= 0 && w <= 1)) return 0;
    ws[n] = w;
  }
  if (*p != ']') return 0;
  p++;
  rec_phase[r] = 0;
  rec_token_id[r] = -1;
  rec_step[r] = -1;
  int seen = 0;
  while (*p == ',') {
    if (LIT(p, ",\"phase\":\"prefill\"") && !(seen & K_PHASE)) {
      rec_phase[r] = 1;
      p += sizeof(",\"phase\":\"prefill\"") - 1;
      seen |= K_PHASE;
    } else if (LIT(p, ",\"phase\":\"decode\"") && !(seen & K_PHASE)) {
      rec_phase[r] = 2;
      p += sizeof(",\"phase\":\"decode\"") - 1;
      seen |= K_PHASE;
    } else if (LIT(p, ",\"token_id\":") && !(seen & K_TOKEN_ID)) {
      p += sizeof(",\"token_id\":") - 1;
      v = uint_at(&p);
      if (v < 0) return 0;
      rec_token_id[r] = v;
      seen |= K_TOKEN_ID;
    } else if (LIT(p, ",\"step\":") && !(seen & K_STEP)) {
      p += sizeof(",\"step\":") - 1;
      v = uint_at(&p);
      if (v < 0) return 0;
      rec_step[r] = v;
      seen |= K_STEP;
    } else
      return 0;
  }
  if (p[0] != '}' || p[1] != '\n') return 0;
  int id = intern(in_buf + rec_req_s[r], in_buf + rec_req_e[r]);
  if (id < 0) return 0;
  rec_req[r] = id;
  return p + 2;
}

/* Lines of in_buf[start, len) (len just past a '\n'), at most MAXREC. Returns the records written;
 * record i's line ends at rec_end[i] (just past its '\n'). */
EXPORT u32 scan(u32 start, u32 len) {
  u32 r = 0;
  u32 pos = start;
  while (pos < len && r < MAXREC) {
    const u8 *next = parse_template(in_buf + pos, r);
    if (!next) next = parse_line(in_buf + pos, r);
    rec_ok[r] = next != 0;
    if (!next) {
      next = in_buf + pos;
      while (*next != '\n') next++;
      next++;
    }
    pos = (u32)(next - in_buf);
    rec_end[r] = pos;
    r++;
  }
  return r;
}
