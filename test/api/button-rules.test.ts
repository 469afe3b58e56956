/** The dial buttons' rules (pure): origins, visitor-number patterns, premium-rate prefixes, business hours. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { businessHoursErrors, isOpen, numberRefusal, originAllowed, originErrors, patternProblem } from '../../src/api/button-rules.js';
import { publicCallStatus } from '../../src/api/button-views.js';

describe('originAllowed', () => {
  const allowed = ['https://www.example.com', 'https://*.shop.example.com', 'http://127.0.0.1:8080'];
  test('matches exact origins, scheme and port included', () => {
    assert.equal(originAllowed('https://www.example.com', allowed), true);
    assert.equal(originAllowed('http://www.example.com', allowed), false);
    assert.equal(originAllowed('https://www.example.com:8443', allowed), false);
    assert.equal(originAllowed('http://127.0.0.1:8080', allowed), true);
    assert.equal(originAllowed('http://127.0.0.1:8081', allowed), false);
  });
  test('a subdomain pattern matches subdomains only, not the domain itself nor look-alikes', () => {
    assert.equal(originAllowed('https://eu.shop.example.com', allowed), true);
    assert.equal(originAllowed('https://a.b.shop.example.com', allowed), true);
    assert.equal(originAllowed('https://shop.example.com', allowed), false);
    assert.equal(originAllowed('https://evilshop.example.com', allowed), false);
    assert.equal(originAllowed('https://shop.example.com.evil.net', allowed), false);
    assert.equal(originAllowed('http://eu.shop.example.com', allowed), false);
  });
  test('absent, null and malformed origins never match', () => {
    assert.equal(originAllowed(undefined, allowed), false);
    assert.equal(originAllowed('null', ['null']), false);
    assert.equal(originAllowed('https://www.example.com/', allowed), false);
    assert.equal(originAllowed('https://WWW.example.com', allowed), false);
    assert.equal(originAllowed('https://user@www.example.com', allowed), false);
  });
  test('subdomain patterns need a domain of two labels', () => {
    assert.equal(originErrors(['https://*.com']).length, 1);
    assert.equal(originErrors(['https://*.example.com', 'https://example.com']).length, 0);
  });
});

describe('number patterns', () => {
  test('valid, anchored, short patterns pass', () => {
    assert.equal(patternProblem('^\\+33[1-79][0-9]{8}$'), undefined);
    assert.equal(patternProblem('^sip:visitor@127\\.0\\.0\\.1:[0-9]+$'), undefined);
    assert.equal(patternProblem('^\\+(?:32|33)[0-9]{8,9}$'), undefined);
  });
  test('invalid, unanchored, too long, back-references and nested repetition are refused', () => {
    assert.match(patternProblem('^(\\+33$') ?? '', /not a valid regular expression/);
    assert.match(patternProblem('\\+33') ?? '', /anchored/);
    assert.match(patternProblem(`^${'1'.repeat(250)}$`) ?? '', /longer than 200/);
    assert.match(patternProblem('^(1)\\1$') ?? '', /back-references/);
    assert.match(patternProblem('^(1+)+$') ?? '', /repeat a group/);
    assert.match(patternProblem('^(1|11)*$') ?? '', /repeat a group/);
    assert.match(patternProblem('^((12)*3)+$') ?? '', /repeat a group/);
    // A class holding + is a literal, not a quantifier.
    assert.equal(patternProblem('^([+]1)+$'), undefined);
  });
  test('numberRefusal: patterns, E.164 by default, premium-rate prefixes refused unless allowed', () => {
    const france = { numberPatterns: ['^\\+33[1-9][0-9]{8}$'], allowPremiumRate: false };
    assert.equal(numberRefusal('+33612345678', france), undefined);
    assert.equal(numberRefusal('+4915112345678', france), 'no_pattern_matches');
    assert.equal(numberRefusal('+33899123456', france), 'premium_rate');
    assert.equal(numberRefusal('+33899123456', { ...france, allowPremiumRate: true }), undefined);
    const any = { numberPatterns: [], allowPremiumRate: false };
    assert.equal(numberRefusal('+15551234567', any), undefined);
    assert.equal(numberRefusal('+19005551234', any), 'premium_rate');
    assert.equal(numberRefusal('+881612345678', any), 'premium_rate');
    assert.equal(numberRefusal('sip:visitor@127.0.0.1:5099', any), 'not_a_number');
    assert.equal(numberRefusal('sip:visitor@127.0.0.1:5099', { numberPatterns: ['^sip:visitor@127\\.0\\.0\\.1:[0-9]+$'], allowPremiumRate: false }), undefined);
  });
});

describe('business hours', () => {
  const hours = { timeZone: 'Europe/Paris', weekly: [{ days: ['mon' as const, 'tue' as const, 'wed' as const, 'thu' as const, 'fri' as const], open: '09:00', close: '18:00' }] };
  test('open in the local time of the zone, closed outside and on other days', () => {
    // Tuesday 1 December 2026: Paris is UTC+1.
    assert.equal(isOpen(hours, new Date('2026-12-01T08:00:00Z')), true); // 09:00 local
    assert.equal(isOpen(hours, new Date('2026-12-01T07:59:00Z')), false); // 08:59
    assert.equal(isOpen(hours, new Date('2026-12-01T16:59:00Z')), true); // 17:59
    assert.equal(isOpen(hours, new Date('2026-12-01T17:00:00Z')), false); // 18:00: closed
    assert.equal(isOpen(hours, new Date('2026-12-05T10:00:00Z')), false); // Saturday
    // Summer time: 1 July 2026 09:30 in Paris is 07:30 UTC.
    assert.equal(isOpen(hours, new Date('2026-07-01T07:30:00Z')), true);
    assert.equal(isOpen(null, new Date()), true);
  });
  test('an unknown time zone and a close before open are named', () => {
    const errors = businessHoursErrors({ timeZone: 'Mars/Olympus', weekly: [{ days: ['mon'], open: '10:00', close: '09:00' }] });
    assert.deepEqual(errors.map((error) => error.field), ['/businessHours/timeZone', '/businessHours/weekly/0/close']);
  });
});

describe('publicCallStatus', () => {
  test('tells the visitor where the call is, not why in the account’s words', () => {
    assert.equal(publicCallStatus({ status: 'calling_a', endReason: null, failedLeg: null }), 'calling_you');
    assert.equal(publicCallStatus({ status: 'calling_b', endReason: null, failedLeg: null }), 'connecting');
    assert.equal(publicCallStatus({ status: 'failed', endReason: 'a_no_answer', failedLeg: 'a' }), 'not_reached');
    assert.equal(publicCallStatus({ status: 'failed', endReason: 'b_busy', failedLeg: 'b' }), 'unavailable');
    assert.equal(publicCallStatus({ status: 'failed', endReason: 'unreachable', failedLeg: null }), 'failed');
  });
});
