// NumPy .npy encoding (format version 1.0, https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
// magic "\x93NUMPY", version 1.0, a little-endian uint16 header length, an ASCII dict literal
// {'descr': ..., 'fortran_order': False, 'shape': (...), } padded with spaces and "\n" so that
// the data starts on a 64-byte boundary, then the C-order array data. No pickles, ever.

export type NpyDtype = "<i2" | "<i4" | "<i8" | "<f8" | `<U${number}`;

function shapeLiteral(shape: readonly number[]): string {
  if (shape.length === 0) return "()";
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(", ")})`;
}

/** The header (magic through the padded dict) for an array of this dtype and shape. */
export function npyHeader(descr: NpyDtype, shape: readonly number[]): Buffer {
  for (const n of shape) if (!Number.isSafeInteger(n) || n < 0) throw new Error(`npy: bad dimension ${n}`);
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeLiteral(shape)}, }`;
  const unpadded = 10 + dict.length + 1;
  const total = Math.ceil(unpadded / 64) * 64;
  const headerLen = total - 10;
  if (headerLen > 0xffff) throw new Error("npy: header too long for format 1.0");
  const out = Buffer.alloc(total, 0x20);
  out.write("\x93NUMPY", 0, "latin1");
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(headerLen, 8);
  out.write(dict, 10, "latin1");
  out[total - 1] = 0x0a;
  return out;
}

function bytesOf(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** A whole .npy file. Typed arrays are little-endian on every platform Node runs on (checked at load). */
export function encodeNpy(
  descr: "<i2" | "<i4" | "<i8" | "<f8",
  shape: readonly number[],
  data: Int16Array | Int32Array | BigInt64Array | Float64Array,
): Buffer {
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new Error(`npy: ${data.length} values for shape ${shapeLiteral(shape)}`);
  return Buffer.concat([npyHeader(descr, shape), bytesOf(data)]);
}

/** A 1-D array of strings as fixed-width UTF-32 ('<U<width>'), as numpy stores str arrays. */
export function encodeNpyStrings(values: readonly string[]): Buffer {
  const cps = values.map((v) => Array.from(v, (c) => c.codePointAt(0)!));
  const width = Math.max(1, ...cps.map((c) => c.length));
  const data = new Uint32Array(values.length * width);
  cps.forEach((c, i) => data.set(c, i * width));
  return Buffer.concat([npyHeader(`<U${width}`, [values.length]), bytesOf(data)]);
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1)
  throw new Error("moe-prof writes .npy files on little-endian machines only");
