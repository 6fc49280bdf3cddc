// Messages: template parsing, per-run compilation, per-user rendering and MIME serialisation.
export { makeMessageId, sanitizeHeaderValue, validateEmail, type EmailCheck } from './address.js';
export { compileMessage, SUBJECT_MAX, type CompiledMessage, type CompileOptions, type RenderResult } from './compile.js';
export { buildMime, formatMailbox, type MimeOptions } from './mime.js';
export { messageSpecFromParts, parseTemplateFile, type MessageSpec } from './spec.js';
