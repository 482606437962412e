// Jest's own order (slowest and failed first), except that the API fuzzing spec runs after every other spec: its
// requests may change any tenant (it holds admin:tenants), and no spec after it should depend on what it left.
const path = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;

const FUZZ = `${path.sep}test${path.sep}fuzz${path.sep}`;

class FuzzLastSequencer extends Sequencer {
  async sort(tests) {
    const sorted = await super.sort(tests);
    return [...sorted.filter((test) => !test.path.includes(FUZZ)), ...sorted.filter((test) => test.path.includes(FUZZ))];
  }
}

module.exports = FuzzLastSequencer;
