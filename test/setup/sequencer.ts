import { readFileSync } from 'node:fs';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** Whether a test file drives chromium: such a file keeps a core busy on its own (rendering, axe-core). */
function drivesBrowser(file: TestSpecification): boolean {
  return readFileSync(file.moduleId, 'utf8').includes('launchChromium');
}

/** One group's files with those that drive a browser spread evenly among the others, each part in its own order. */
function spreadBrowsers(files: TestSpecification[]): TestSpecification[] {
  const browsers = files.filter(drivesBrowser);
  const others = files.filter((file) => !browsers.includes(file));
  const othersPerBrowser = Math.ceil(others.length / Math.max(1, browsers.length));
  return browsers
    .flatMap((browser, index) => [browser, ...others.slice(index * othersPerBrowser, (index + 1) * othersPerBrowser)])
    .concat(others.slice(browsers.length * othersPerBrowser));
}

/**
 * Vitest's order (groups in their order; in each, the longest or largest file first), with the
 * files that drive a browser spread evenly among the others. Two files run side by side on two
 * cores; two browsers at once would leave a file's broker, its simulators and its test no core
 * between them, so a browser file is best paired with one that mostly waits (on timers, Redis,
 * an eID's simulated delay).
 */
export class SpreadBrowsersSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const groups = new Map<number, TestSpecification[]>();
    for (const file of await super.sort(files)) {
      const order = file.project.config.sequence.groupOrder;
      groups.set(order, [...(groups.get(order) ?? []), file]);
    }
    return [...groups.values()].flatMap(spreadBrowsers);
  }
}
