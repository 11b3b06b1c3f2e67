// Reading a stream as lines: the control socket's JSON lines in the CLI, and (in the
// tests and the bench) the event lines a server prints.
import { StringDecoder } from 'node:string_decoder';

/** Calls `fn` with each complete line (without its newline) that `stream` delivers. */
export function onLines(stream: NodeJS.ReadableStream, fn: (line: string) => void): void {
  const decoder = new StringDecoder('utf8');
  let buf = '';
  stream.on('data', (chunk: Buffer | string) => {
    buf += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      fn(line);
    }
  });
}
