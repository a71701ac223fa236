// Progress on stderr: a redrawn bar on a terminal, a few plain lines otherwise (CI logs).
import type { WorkerMessage } from "../worker/protocol.js";

const WIDTH = 24;

function bar(done: number, total: number): string {
  const filled = Math.round((done / Math.max(total, 1)) * WIDTH);
  return `[${"#".repeat(filled)}${"-".repeat(WIDTH - filled)}] ${done}/${total}`;
}

export class ProgressView {
  private line = "";
  private lastPlainQuarter = -1;
  constructor(
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly tty: boolean = Boolean(process.stderr.isTTY),
  ) {}

  private draw(text: string, final = false): void {
    if (this.tty) {
      this.out.write(`\r\x1b[2K${text}${final ? "\n" : ""}`);
    } else if (text !== this.line) {
      this.out.write(`${text}\n`);
    }
    this.line = text;
  }

  onMessage(label: string, msg: WorkerMessage): void {
    switch (msg.type) {
      case "phase":
        if (msg.phase === "load") this.draw(`${label}: loading model...`);
        else if (msg.phase === "warmup") this.draw(`${label}: warm-up (not timed, not logged)...`);
        else this.draw(`${label}: generating ${bar(0, msg.total ?? 0)} requests`);
        this.lastPlainQuarter = -1;
        break;
      case "ready":
        this.draw(`${label}: model loaded in ${msg.load_s.toFixed(1)} s`);
        break;
      case "progress": {
        // Tokens as they come where the engine reports them (hf: every step; a batch's requests
        // mostly finish together at its end, so requests alone jumped 0/4 -> 4/4); else requests.
        const byTokens = msg.tokens !== undefined && msg.tokens_at_most !== undefined;
        const [done, total] = byTokens ? [msg.tokens!, msg.tokens_at_most!] : [msg.done, msg.total];
        const quarter = Math.floor((done / Math.max(total, 1)) * 4);
        if (this.tty || quarter > this.lastPlainQuarter) {
          this.lastPlainQuarter = quarter;
          const requests = `${msg.done}/${msg.total} request${msg.total === 1 ? "" : "s"}`;
          this.draw(
            `${label}: generating ${byTokens ? `${bar(done, total)} tokens (at most), ${requests} done` : `${bar(done, total)} requests`}`,
          );
        }
        break;
      }
      case "result":
        this.draw(`${label}: done, ${msg.generate_s.toFixed(2)} s generation`, true);
        break;
      default:
        break;
    }
  }

  note(text: string): void {
    this.draw(text, true);
  }
}
