/** Someone with a BankID on the simulated phone, with the names exactly as their bank sends them. */
export interface SimulatedPerson {
  personalNumber: string;
  givenName: string;
  surname: string;
  name: string;
  bankIdIssueDate: string;
}

/**
 * Fictitious people with valid check digits, each there for a case the broker must handle:
 * an ordinary adult first (the default), a bank that sends names in capitals, a coordination
 * number (day of birth + 60), a leap-day birthday and a minor.
 */
export const simulatedPersons: readonly SimulatedPerson[] = [
  {
    personalNumber: '198503122437',
    givenName: 'Astrid',
    surname: 'Lindqvist',
    name: 'Astrid Lindqvist',
    bankIdIssueDate: '2021-09-14',
  },
  {
    personalNumber: '197207043576',
    givenName: 'KARL-JOHAN',
    surname: 'ÅSTRÖM',
    name: 'KARL-JOHAN ÅSTRÖM',
    bankIdIssueDate: '2019-02-01',
  },
  {
    personalNumber: '199108674681',
    givenName: 'Yasmin',
    surname: 'Haddad',
    name: 'Yasmin Haddad',
    bankIdIssueDate: '2023-11-30',
  },
  {
    personalNumber: '196402291485',
    givenName: 'Gunnel',
    surname: 'Öberg',
    name: 'Gunnel Öberg',
    bankIdIssueDate: '2017-05-22',
  },
  {
    personalNumber: '201105202566',
    givenName: 'Liam',
    surname: 'Ek',
    name: 'Liam Ek',
    bankIdIssueDate: '2025-06-10',
  },
];

/** A person by position in `simulatedPersons` or by personal number. */
export function findSimulatedPerson(reference: number | string): SimulatedPerson | undefined {
  return typeof reference === 'number'
    ? simulatedPersons[reference]
    : simulatedPersons.find((person) => person.personalNumber === reference);
}
