// The load generator drives only a server on this machine: it is a benchmark of a server moe-prof
// started, never a tool to send traffic elsewhere.
import { envError } from "../errors.js";

const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost"]);

/** The URL's origin (`http://127.0.0.1:8000`), or a usage error naming the host it refuses. */
export function localOrigin(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw envError(`${url}: not a URL (expected http://127.0.0.1:PORT)`);
  }
  if (u.protocol !== "http:") throw envError(`${url}: only http:// to this machine is driven, not ${u.protocol}//`);
  if (!LOCAL_HOSTS.has(u.hostname))
    throw envError(
      `${url}: the load generator only talks to 127.0.0.1 or localhost, not ${u.hostname} (it benchmarks a server on this machine)`,
    );
  return u.origin;
}
