/** A status as the frontend JSON API answers it. */
export interface ApiStatus {
  status: string;
  hintCode?: string;
  messageCode?: string;
  message?: string;
  qrCode?: { payload: string; svg: string };
  redirectTo?: string;
}

export function logInWithBankIdOnAnotherDevice(options: {
  request: (path: string, init: RequestInit) => Promise<Response>;
  uid: string;
  onStatus: (state: ApiStatus) => void | Promise<void>;
  wait?: (ms: number) => Promise<unknown>;
}): Promise<ApiStatus & { redirectTo: string }>;
