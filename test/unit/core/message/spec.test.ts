import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../../src/core/errors.js';
import { messageSpecFromParts, parseTemplateFile } from '../../../../src/core/message/index.js';

function errorOf(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('parseTemplateFile', () => {
  it('reads the subject and both parts, dropping trailing blank lines', () => {
    const spec = parseTemplateFile(
      ['# weekly digest', '', 'subject: Your weekly digest, {{name}}', '---- text', 'Hi {{name}},', '', 'bye', '', '', '---- html', '<p>Hi {{name}}</p>', ''].join('\n'),
      'digest.tpl',
    );
    expect(spec).toEqual({ subject: 'Your weekly digest, {{name}}', text: 'Hi {{name}},\n\nbye', html: '<p>Hi {{name}}</p>' });
  });

  it('accepts CRLF line ends, a BOM, parts in any order and a single part', () => {
    const spec = parseTemplateFile('\uFEFFSubject: Hello\r\n---- HTML\r\n<b>x</b>\r\n', 'a.tpl');
    expect(spec).toEqual({ subject: 'Hello', html: '<b>x</b>' });
    const both = parseTemplateFile('subject: s\n---- html\n<i>h</i>\n---- text\nt\n');
    expect(both.text).toBe('t');
    expect(both.html).toBe('<i>h</i>');
  });

  it('keeps a marker-like line inside a part only when it is not a marker', () => {
    const spec = parseTemplateFile('subject: s\n---- text\n--- not a marker\n-----\n');
    expect(spec.text).toBe('--- not a marker\n-----');
  });

  it('names the file and line of each problem', () => {
    expect(errorOf(() => parseTemplateFile('---- text\nhi\n', 'a.tpl')).message).toMatch(/^a\.tpl:1: missing "subject: \.\.\."/);
    expect(errorOf(() => parseTemplateFile('subject: s\n', 'a.tpl')).message).toMatch(/^a\.tpl:\d+: no "---- text" or "---- html" part/);
    expect(errorOf(() => parseTemplateFile('subject: s\n---- pdf\nx', 'a.tpl')).message).toBe(
      'a.tpl:2: unknown part "pdf": use "---- text" or "---- html"',
    );
    expect(errorOf(() => parseTemplateFile('subject: s\n---- text\na\n---- text\nb', 'a.tpl')).message).toBe('a.tpl:4: the text part appears twice');
    expect(errorOf(() => parseTemplateFile('subject: s\nfrom: x\n---- text\na', 'a.tpl')).message).toBe(
      'a.tpl:2: unknown header "from": only "subject:" is supported',
    );
    expect(errorOf(() => parseTemplateFile('subject: s\nsubject: t\n---- text\na', 'a.tpl')).message).toBe('a.tpl:2: subject appears twice');
    expect(errorOf(() => parseTemplateFile('hello there\n---- text\na', 'a.tpl')).message).toMatch(/^a\.tpl:1: expected "subject: \.\.\."/);
    expect(errorOf(() => parseTemplateFile('subject: s\n---- text\n\n\n---- html\n<p/>', 'a.tpl')).message).toBe('a.tpl:2: the text part is empty');
  });

  it('maps a Handlebars syntax error to the line of the file', () => {
    const src = ['subject: Hi', '---- text', 'line one', 'line two', '---- html', '<p>ok</p>', '<p>{{#if name}}unclosed</p>'].join('\n');
    const err = errorOf(() => parseTemplateFile(src, 'bad.tpl'));
    expect(err.message).toMatch(/^bad\.tpl:7: html template: Expecting/);
    expect(err.message).not.toContain('\n');
  });

  it('rejects unknown helpers at parse time with their line', () => {
    const err = errorOf(() => parseTemplateFile('subject: Hi\n---- text\nok\n{{shout name}}\n', 'h.tpl'));
    expect(err.message).toMatch(/^h\.tpl:4: text template: .*unknown helper shout/);
  });

  it('reports a subject syntax error on the subject line', () => {
    expect(errorOf(() => parseTemplateFile('\n\nsubject: Hi {{name\n---- text\nx', 's.tpl')).message).toMatch(/^s\.tpl:3: subject template:/);
  });
});

describe('messageSpecFromParts', () => {
  it('builds a spec from --subject/--text/--html', () => {
    expect(messageSpecFromParts({ subject: ' Hi {{name}} ', text: 'Hello\n\n' })).toEqual({ subject: 'Hi {{name}}', text: 'Hello' });
    expect(messageSpecFromParts({ subject: 'Hi', html: '<p>x</p>' })).toEqual({ subject: 'Hi', html: '<p>x</p>' });
  });

  it('requires a subject and at least one body', () => {
    expect(errorOf(() => messageSpecFromParts({ text: 'x' })).message).toMatch(/--subject is required/);
    expect(errorOf(() => messageSpecFromParts({ subject: 'x', text: '  ' })).message).toMatch(/--text <text\|@file> and\/or --html/);
  });

  it('checks template syntax and names the flag', () => {
    expect(errorOf(() => messageSpecFromParts({ subject: 'x', html: '{{#each a}}' })).message).toMatch(/^--html(:\d+)?: html template:/);
  });
});
