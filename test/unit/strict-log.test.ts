import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { checkLogLine, checkLogText, mixedFieldTypes } from '../support/strict-log.js';

const fine = '{"level":30,"time":"2026-12-01T18:09:30.700Z","service":"nordic-eid-broker","msg":"request"}';

/** The problems of `fine` with `more` added before its `msg`. */
const problemsWith = (more: string) => checkLogLine(fine.replace(',"msg"', `,${more},"msg"`)).problems;

describe('the strict check of a log line', () => {
  it('passes a line as pino writes it', () => {
    expect(checkLogLine(fine).problems).toEqual([]);
    expect(problemsWith('"nested":{"a":[1,{"b":"x\\ny"}],"c":null},"err":{"type":"Error","message":"m","stack":"s"}')).toEqual([]);
  });

  it('refuses a key twice, at the top or at any depth, which JSON.parse lets through', () => {
    expect(problemsWith('"service":"again"')).toEqual(['the key "service" twice']);
    expect(problemsWith('"a":[{"b":1,"b":2}]')).toEqual(['the key "a.0.b" twice']);
  });

  it('refuses what is not one line of one JSON object', () => {
    expect(checkLogLine(`${fine}\n${fine}`).problems).toContain('more than one line');
    expect(checkLogLine('[1]').problems[0]).toMatch(/^not JSON/);
    expect(checkLogLine(`${fine} x`).problems[0]).toMatch(/^not JSON/);
    expect(checkLogLine(fine.replace('request', 'a\u0001b')).problems[0]).toMatch(/^not JSON/);
    expect(checkLogLine(fine.replace('request', '\ud800')).problems).toContain('not valid UTF-8 (a lone surrogate)');
    expect(() => checkLogText(Buffer.from([0x7b, 0xff, 0x7d, 0x0a]))).toThrow();
  });

  it('asks for level, an ISO 8601 time, msg, and err as an error', () => {
    expect(checkLogLine('{"time":1764612570700,"msg":""}').problems).toEqual(['no level', 'time is not ISO 8601: 1764612570700', 'no msg']);
    expect(problemsWith('"err":"words"')).toEqual(['err is not an error as pino writes one ({type, message, stack}); words go in reason']);
  });

  it('finds a field with values of two types across lines', () => {
    expect(mixedFieldTypes([{ msg: 'a', status: 200 }, { msg: 'b', status: 'CANCEL' }, { msg: 'c', status: 404 }])).toEqual({ status: { number: 'a', string: 'b' } });
  });

  it('refuses the line of a child logger given its bound field again: the mistake it is there to catch', () => {
    const lines: string[] = [];
    createLogger('info', { write: (line: string) => lines.push(line) }).child({ eid: 'se-bankid' }).info({ eid: 'se-bankid' }, 'twice');
    expect(checkLogText(lines.join('')).flatMap((line) => line.problems)).toEqual(['the key "eid" twice']);
  });
});
