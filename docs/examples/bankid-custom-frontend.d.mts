/** A status as the frontend JSON API answers it. */
export interface ApiStatus {
  status: string;
  hintCode?: string;
  messageCode?: string;
  message?: string;
  qrCode?: { payload: string; svg: string };
  /** On ERROR and CANCEL: a support reference to show with the message. */
  reference?: string;
  /** An ERROR or CANCEL that trying again may mend: the login is not over, and there is no redirectTo. */
  retry?: true;
  redirectTo?: string;
}

/** How the wait ended: where the browser goes next, or an ending the person may try again. */
export type ApiEnding = (ApiStatus & { redirectTo: string }) | (ApiStatus & { retry: true });

export function logInWithBankIdOnAnotherDevice(options: {
  request: (path: string, init: RequestInit) => Promise<Response>;
  uid: string;
  onStatus: (state: ApiStatus) => void | Promise<void>;
  wait?: (ms: number) => Promise<unknown>;
}): Promise<ApiEnding>;
