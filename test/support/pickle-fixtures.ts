import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** One sample of messages.md §8.5: the bytes lando-messaging produced and what they mean. */
export interface PickleFixture {
  readonly name: string;
  readonly bytes: Buffer;
  readonly meaning: {
    readonly command: string;
    readonly version: string;
    readonly envelope_class: string;
    readonly envelope_fields_in_pickle_order: readonly string[];
    readonly payload_class: string;
    readonly payload_fields_in_pickle_order: readonly string[];
    readonly payload: Readonly<Record<string, string | number | null>>;
    readonly length_bytes: number;
  };
}

export function pickleFixtures(): PickleFixture[] {
  const dir = `${FIXTURES}pickle/`;
  return readdirSync(dir)
    .filter((file) => file.endsWith('.pickle.hex'))
    .sort()
    .map((file) => {
      const name = file.slice(0, -'.pickle.hex'.length);
      return {
        name,
        bytes: Buffer.from(readFileSync(`${dir}${file}`, 'utf8').trim(), 'hex'),
        meaning: JSON.parse(readFileSync(`${dir}${name}.json`, 'utf8')) as PickleFixture['meaning'],
      };
    });
}

/** A message the original watcher sent (fixtures/transcripts/watcher-decisions.json). */
export interface WatcherSend {
  readonly case: string;
  readonly bytes: Buffer;
  readonly command: string;
  readonly version: string;
  readonly payload: Readonly<Record<string, string | null>>;
}

interface WatcherEffect {
  readonly kind: string;
  readonly body_hex?: string;
  readonly command?: string;
  readonly version?: string;
  readonly payload?: Readonly<Record<string, string | null>>;
}

export function watcherSends(): WatcherSend[] {
  const transcript = JSON.parse(readFileSync(`${FIXTURES}transcripts/watcher-decisions.json`, 'utf8')) as {
    events: { case: string; effects: WatcherEffect[] }[];
  };
  return transcript.events.flatMap((event) =>
    event.effects.flatMap((effect) =>
      effect.kind === 'amqp_send' && effect.body_hex !== undefined && effect.command !== undefined
        ? [
            {
              case: event.case,
              bytes: Buffer.from(effect.body_hex, 'hex'),
              command: effect.command,
              version: effect.version ?? '',
              payload: effect.payload ?? {},
            },
          ]
        : [],
    ),
  );
}
