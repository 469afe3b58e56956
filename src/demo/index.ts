/** The demo application (`npm run demo`): the service, two demo phones and an API client in one process. */
export { runDemo, DemoFailed, type DemoOptions, type DemoResult, type DemoEvent } from './run-demo.js';
export { DemoPhone, type DemoPhoneOptions, type PhoneActivity, type PhoneActivityKind } from './demo-phone.js';
export { PhoneMedia, type MediaState } from './phone-media.js';
export { renderLadder, type LadderLine, type LadderOptions } from './ladder.js';
