/** The ISO date YYYY-MM-DD, or undefined when that day does not exist. */
export function calendarDate(year: number, month: number, day: number): string | undefined {
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0–99 onto 1900–1999.
  date.setUTCFullYear(year, month - 1, day);
  const roundTrips =
    date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  return roundTrips ? isoDate(date) : undefined;
}

/**
 * The calendar day of `moment` in UTC. Numbers carry only a date, and a few hours either side
 * of midnight do not matter for telling someone's age, so one fixed zone keeps results
 * independent of where the server runs.
 */
export function isoDate(moment: Date): string {
  return moment.toISOString().slice(0, 10);
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Age in whole years on the UTC day of `on`. Comparing month and day as text means someone
 * born on 29 February turns a year older on 1 March in non-leap years.
 */
export function ageOn(dateOfBirth: string, on: Date): number {
  if (!ISO_DATE.test(dateOfBirth)) {
    throw new RangeError(`Not an ISO date (YYYY-MM-DD): ${dateOfBirth}`);
  }
  const today = isoDate(on);
  const birthdayPassed = today.slice(5) >= dateOfBirth.slice(5);
  return Number(today.slice(0, 4)) - Number(dateOfBirth.slice(0, 4)) - (birthdayPassed ? 0 : 1);
}
