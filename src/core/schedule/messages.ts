// Which message a schedule sends: its `template` read from `--template-dir`, else the run's message
// flags (`--template`, or `--subject` with `--text`/`--html`). Each template is read and compiled
// once per run. A problem (missing file, syntax error) is not fatal: the users that need that
// template stay due, the run reports the reason, and a fix within `--catch-up` still sends them.
import { compileMessage, parseTemplateFile, type CompileOptions, type MessageSpec } from '../message/index.js';
import type { ResolvedMessage, ScheduleMessages } from './types.js';

export interface ScheduleMessagesOptions {
  /** Reads `<name>` from the template directory: the source and the file name shown in errors, or null when absent. */
  readTemplate?: (name: string) => Promise<{ source: string; fileName: string } | null>;
  /** Where templates are looked up (for messages). */
  templateDir?: string;
  /** The message from the run's flags, when given. */
  flags?: MessageSpec;
  compile: CompileOptions;
}

type Resolved = ResolvedMessage | { ok: false; reason: string };

export function createScheduleMessages(o: ScheduleMessagesOptions): ScheduleMessages {
  const cache = new Map<string, Promise<Resolved>>();
  const build = (spec: MessageSpec, name: string): Resolved => {
    try {
      const compiled = compileMessage(spec, o.compile);
      return { ok: true, name, render: (user, messageId) => compiled.render(user, messageId) };
    } catch (err) {
      return { ok: false, reason: (err as Error).message };
    }
  };
  const fromFlags = (why: string): Resolved => (o.flags ? build(o.flags, 'flags') : { ok: false, reason: why });

  const load = async (name: string | undefined): Promise<Resolved> => {
    if (name === undefined) return fromFlags('the schedule names no template and no --template or --subject was given');
    if (!o.readTemplate) return fromFlags(`schedule.template "${name}" needs --template-dir (or give --template/--subject for every schedule)`);
    let file: { source: string; fileName: string } | null;
    try {
      file = await o.readTemplate(name);
    } catch (err) {
      return { ok: false, reason: `template "${name}": ${(err as Error).message}` };
    }
    if (!file) return { ok: false, reason: `template "${name}" not found in ${o.templateDir ?? '--template-dir'} (looked for ${name} and ${name}.txt)` };
    try {
      return build(parseTemplateFile(file.source, file.fileName), name);
    } catch (err) {
      return { ok: false, reason: (err as Error).message };
    }
  };

  return {
    resolve(name) {
      const k = name ?? '\u0000flags';
      let p = cache.get(k);
      if (!p) {
        p = load(name);
        cache.set(k, p);
      }
      return p;
    },
  };
}
