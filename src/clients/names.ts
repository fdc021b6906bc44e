/**
 * How an eID names the client metadata it declares (EidPlugin.clientMetadata): lowercase words
 * joined by `_`, such as `bankid_requirement`. The configuration file accepts such a key on a
 * client before the eIDs are known, and checks it once they are; any other unknown key is
 * refused when the file is read.
 */
export const EID_FIELD_NAME = /^[a-z][a-z0-9]*(_[a-z0-9]+)+$/;
