/**
 * The simulated Bank iD's banks and people. Birth numbers are valid (one nine-digit, born before
 * 1954; one with month + 20); the other entries trigger the error callbacks Bank iD sends.
 */

export interface SimulatedBank {
  id: string;
  title: string;
  /** The bank's number at the Czech National Bank: verified_claims' verification_process. */
  cnbCode: string;
  /** The error every login at this bank ends with (an outage at the bank). */
  error?: string;
}

export interface SimulatedCzechPerson {
  /** The person's name and birth number, as the page shows them. */
  label?: string;
  /** What sets the person apart, in words: a key of the simulator's texts (bankid-cz-simulator.<note>), after the label. */
  note?: string;
  accountId: string;
  /** What the bank knows, in /profile's claim names; scopes decide what is released. */
  claims: Record<string, unknown>;
  /** The error callback a login as this person ends with, instead of a code. */
  error?: string;
}

export const simulatedBanks: readonly SimulatedBank[] = [
  { id: 'c3b0a1e2-0001-4a5b-9c01-5a1e00000001', title: 'Simulovaná Česká banka', cnbCode: '0100' },
  { id: 'c3b0a1e2-0002-4a5b-9c01-5a1e00000002', title: 'Simulovaná Moravská spořitelna', cnbCode: '0800' },
  { id: 'c3b0a1e2-0003-4a5b-9c01-5a1e00000003', title: 'Banka s poruchou (server_error)', cnbCode: '0300', error: 'server_error' },
  { id: 'c3b0a1e2-0004-4a5b-9c01-5a1e00000004', title: 'Nedostupná banka (temporarily_unavailable)', cnbCode: '0600', error: 'temporarily_unavailable' },
];

const address = (street: string, streetnumber: string, city: string, zipcode: string) => ({
  type: 'PERMANENT_RESIDENCE',
  street,
  buildingapartment: '812',
  streetnumber,
  city,
  zipcode,
  country: 'CZ',
});

export const simulatedPersons: readonly SimulatedCzechPerson[] = [
  {
    label: 'Petra Dvořáková (905302/4563)',
    accountId: 'cz-petra',
    claims: {
      given_name: 'Petra',
      family_name: 'Dvořáková',
      gender: 'female',
      birthdate: '1990-03-02',
      birthnumber: '9053024563',
      birthplace: 'Brno',
      birthcountry: 'CZ',
      nationalities: ['CZ'],
      addresses: [address('Lipová', '4', 'Brno', '60200')],
      email: 'petra.dvorakova@example.cz',
      phone_number: '+420777123456',
      locale: 'cs_CZ',
      majority: true,
    },
  },
  {
    label: 'Jan Tomáš Novák (850715/1235)',
    accountId: 'cz-jan',
    claims: {
      given_name: 'Jan',
      middle_name: 'Tomáš',
      family_name: 'Novák',
      title_prefix: 'Ing.',
      gender: 'male',
      birthdate: '1985-07-15',
      birthnumber: '8507151235',
      nationalities: ['CZ'],
      addresses: [address('Vinohradská', '12', 'Praha', '12000')],
      majority: true,
    },
  },
  {
    label: 'Marie Svobodová (455101/123)',
    note: 'note_nine_digits',
    accountId: 'cz-marie',
    claims: { given_name: 'Marie', family_name: 'Svobodová', gender: 'female', birthdate: '1945-01-01', birthnumber: '455101123', nationalities: ['CZ'], majority: true },
  },
  {
    label: 'Tomáš Dvořák (102505/7891)',
    note: 'note_minor',
    accountId: 'cz-tomas',
    claims: { given_name: 'Tomáš', family_name: 'Dvořák', gender: 'male', birthdate: '2010-05-05', birthnumber: '1025057891', nationalities: ['CZ'], majority: false },
  },
  {
    label: 'Anna Schmidt',
    note: 'note_foreign',
    accountId: 'cz-anna',
    claims: { given_name: 'Anna', family_name: 'Schmidt', gender: 'female', birthdate: '1988-11-30', nationalities: ['DE'], majority: true },
  },
  { note: 'note_not_active', accountId: 'cz-inactive', claims: {}, error: 'eid_doesnt_exist' },
  { note: 'note_not_eligible', accountId: 'cz-not-eligible', claims: {}, error: 'user_not_eligible' },
];

/**
 * Which claims each scope releases, at /userinfo (the quick answer) and at /profile (the full,
 * registry-checked one), as Bank iD's API documents them.
 */
export const scopeClaims: Readonly<Record<string, { userinfo: readonly string[]; profile: readonly string[] }>> = {
  'profile.name': { userinfo: ['given_name', 'family_name', 'middle_name'], profile: ['given_name', 'family_name', 'middle_name'] },
  'profile.titles': { userinfo: [], profile: ['title_prefix', 'title_suffix'] },
  'profile.gender': { userinfo: ['gender'], profile: ['gender'] },
  'profile.birthdate': { userinfo: ['birthdate'], profile: ['birthdate', 'age', 'date_of_death'] },
  'profile.birthnumber': { userinfo: [], profile: ['birthnumber'] },
  'profile.birthplaceNationality': { userinfo: [], profile: ['birthplace', 'birthcountry', 'nationalities'] },
  'profile.addresses': { userinfo: [], profile: ['addresses'] },
  'profile.email': { userinfo: ['email'], profile: ['email'] },
  'profile.phonenumber': { userinfo: ['phone_number'], profile: ['phone_number'] },
  'profile.locale': { userinfo: ['locale'], profile: [] },
  'profile.legalstatus': { userinfo: [], profile: ['majority', 'pep', 'limited_legal_capacity'] },
  'profile.verification': { userinfo: [], profile: [] },
};

/** The claims a bank checks against the state's registers, repeated in verified_claims. */
export const verifiedClaimNames: readonly string[] = ['given_name', 'family_name', 'middle_name', 'birthdate', 'birthnumber', 'birthplace', 'nationalities', 'addresses'];
