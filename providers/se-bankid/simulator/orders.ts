import { randomUUID } from 'node:crypto';
import { qrPayload } from '../qr.js';
import { completionData, type CompletionData } from './completion.js';
import { invalidParameters, RpApiError, SimulatorError } from './errors.js';
import { findSimulatedPerson } from './persons.js';
import { isPhoneKind, type OrderKind, type OrderRequest, type OrderRequirement } from './requests.js';

export interface OrderTiming {
  /** An order nobody picks up within this fails with startFailed. */
  pickupTimeoutMs: number;
  /** A picked-up order not finished within this fails with expiredTransaction. */
  lifetimeMs: number;
}

export interface OrderResponse {
  orderRef: string;
  autoStartToken: string;
  qrStartToken: string;
  qrStartSecret: string;
}

/** Where an order stands, as collect reports it. */
type Outcome =
  | { status: 'pending' | 'failed'; hintCode: string }
  | { status: 'complete'; completionData: CompletionData };

type FinalOutcome = { status: 'failed'; hintCode: string } | { status: 'complete'; completionData: CompletionData };

/** What the phone API answers: the order's reference alone, since nothing is scanned or opened. */
export type PhoneOrderResponse = Pick<OrderResponse, 'orderRef'>;

export type CollectResponse = { orderRef: string } & Outcome;

type OrderStatus = Outcome['status'];

/** An order as a test or the control surface sees it. */
export interface SimulatedOrderView {
  orderRef: string;
  kind: OrderKind;
  /** `cancelled`: the service cancelled it (`/cancel`), as cancelledViews lists them. */
  status: OrderStatus | 'cancelled';
  hintCode?: string;
  pickedUp: boolean;
  /** Still waiting for someone to scan its QR code or open its autostart token. */
  qrPending: boolean;
  requirement?: OrderRequirement;
  /** Phone orders: whose phone, and who called whom (user: the person called the service). */
  personalNumber?: string;
  callInitiator?: 'user' | 'RP';
  userVisibleData?: string;
  userVisibleTransaction?: OrderRequest['userVisibleTransaction'];
  riskFlags?: string[];
  autoStartToken: string;
  /** For tests that draw QR frames themselves or check the secret never reaches a browser. */
  qrStartToken: string;
  qrStartSecret: string;
  createdAt: string;
}

interface SimulatedOrder extends OrderResponse {
  kind: OrderKind;
  request: OrderRequest;
  createdAt: number;
  outcome: Outcome;
  pickedUpAt?: number;
  pickedUpBy?: Pickup;
  finishedAt?: number;
}

/** How the app got the order: a phone order is on the person's phone as soon as it exists. */
type Pickup = 'qr' | 'autostart' | 'phone';

/**
 * BankID keeps a finished order's answer around this long, then forgets the orderRef. A pending
 * order is kept until its own deadline fails it.
 */
const COLLECTABLE_MS: Record<OrderStatus, number> = {
  pending: Infinity,
  complete: 3 * 60_000,
  failed: 5 * 60_000,
};

/**
 * How long the simulator remembers an order the service cancelled, for tests and the control
 * API to tell it from one still running. BankID's API forgets it at once, and so does this one.
 */
const CANCELLED_KEPT_MS = 5 * 60_000;

/** How many seconds old a QR frame may be: the phone's camera and the page's refresh lag. */
const QR_FRAME_TOLERANCE_SECONDS = 5;
const QR_FRAME = /^bankid\.([^.]+)\.(\d+)\.[0-9a-f]{64}$/;

/** The states an app action needs the order to be in, and how to say it is not. */
const stages = {
  awaitingPickup: {
    holds: (order: SimulatedOrder) => order.outcome.status === 'pending' && order.pickedUpAt === undefined,
    refusal: 'is not waiting to be picked up',
  },
  withApp: {
    holds: (order: SimulatedOrder) => order.outcome.status === 'pending' && order.pickedUpAt !== undefined && hintCodeOf(order) !== 'userCallConfirm',
    refusal: 'has not been picked up by the app (scan its QR code, open its autostart token, or confirm the call first)',
  },
  awaitingCallConfirm: {
    holds: (order: SimulatedOrder) => order.outcome.status === 'pending' && hintCodeOf(order) === 'userCallConfirm',
    refusal: 'is not waiting for the person to confirm the call',
  },
  pending: {
    holds: (order: SimulatedOrder) => order.outcome.status === 'pending',
    refusal: 'is no longer pending',
  },
} as const;

type Stage = keyof typeof stages;

/**
 * Every order the simulated BankID server knows, and the rules it moves by. Time-driven changes
 * (pickup timeout, lifetime, forgetting finished orders) are worked out whenever an order is
 * looked at, so there are no timers to clean up.
 */
export class OrderBook {
  readonly #orders = new Map<string, SimulatedOrder>();
  /** Orders the service cancelled, as they were then, with when (ms): see CANCELLED_KEPT_MS. */
  readonly #cancelled = new Map<string, { view: SimulatedOrderView; at: number }>();

  constructor(private readonly timing: OrderTiming) {}

  create(kind: OrderKind, request: OrderRequest): OrderResponse | PhoneOrderResponse {
    this.#refuseSecondOrderForPerson(personalNumberOf(request));
    const order: SimulatedOrder = {
      orderRef: randomUUID(),
      autoStartToken: randomUUID(),
      qrStartToken: randomUUID(),
      qrStartSecret: randomUUID(),
      kind,
      request,
      createdAt: Date.now(),
      outcome: { status: 'pending', hintCode: 'outstandingTransaction' },
    };
    this.#orders.set(order.orderRef, order);
    const { orderRef, autoStartToken, qrStartToken, qrStartSecret } = order;
    if (!isPhoneKind(kind)) return { orderRef, autoStartToken, qrStartToken, qrStartSecret };
    // The app asks the person at once whether they are in a call with the service.
    pickUp(order, 'phone');
    return { orderRef };
  }

  collect(orderRef: string): CollectResponse {
    const order = this.#apiOrder(orderRef);
    const response = { orderRef, ...order.outcome };
    // The app reports `started` once, while it looks for a usable BankID, then asks for the code.
    if (hintCodeOf(order) === 'started') order.outcome = { status: 'pending', hintCode: signingHint(order) };
    return response;
  }

  cancel(orderRef: string): void {
    const order = this.#apiOrder(orderRef);
    if (order.outcome.status !== 'pending') throw invalidParameters(`Order ${orderRef} has already finished`);
    this.#orders.delete(orderRef);
    this.#forgetCancelled();
    this.#cancelled.set(orderRef, { view: { ...view(order), status: 'cancelled' }, at: Date.now() });
  }

  /** The orders the service cancelled within CANCELLED_KEPT_MS, oldest first; the API knows them no more. */
  cancelledViews(): SimulatedOrderView[] {
    this.#forgetCancelled();
    return [...this.#cancelled.values()].map((cancelled) => cancelled.view);
  }

  scanQr(payload: string): void {
    const frame = QR_FRAME.exec(payload);
    if (!frame) throw new SimulatorError('Not a BankID QR code: expected bankid.<qrStartToken>.<time>.<authCode>');
    const [, qrStartToken = '', time = ''] = frame;
    const order = this.#live().find((candidate) => candidate.qrStartToken === qrStartToken);
    if (!order) throw new SimulatorError('No order has this QR code');
    this.#require(order, 'awaitingPickup');
    if (qrPayload(qrStartToken, order.qrStartSecret, Number(time)) !== payload) {
      throw new SimulatorError('The QR code does not verify: its authentication code is wrong');
    }
    const age = elapsedSeconds(order);
    if (Number(time) > age || Number(time) < age - QR_FRAME_TOLERANCE_SECONDS) {
      throw new SimulatorError(`The QR code is not current: it shows second ${time} of the order, which is now at second ${age}`);
    }
    pickUp(order, 'qr');
  }

  /** What pointing the phone at the service's screen right now would read. */
  scanCurrentQr(orderRef: string): void {
    const order = this.#controlledOrder(orderRef, 'awaitingPickup');
    this.scanQr(qrPayload(order.qrStartToken, order.qrStartSecret, elapsedSeconds(order)));
  }

  openAutoStart(autoStartToken: string): void {
    const order = this.#live().find((candidate) => candidate.autoStartToken === autoStartToken);
    if (!order) throw new SimulatorError('No order has this autostart token');
    this.#require(order, 'awaitingPickup');
    pickUp(order, 'autostart');
  }

  /**
   * Where the app takes the person once an order it was started for on this device ends: the
   * order's returnUrl, as BankID's app does. Undefined for QR orders (the phone is another device).
   */
  returnUrlAfter(orderRef: string): string | undefined {
    const order = this.#live().find((candidate) => candidate.orderRef === orderRef);
    return order?.pickedUpBy === 'autostart' ? order.request.returnUrl : undefined;
  }

  /**
   * `personReference` defaults to the person a phone order was started for, and to the first
   * test person otherwise.
   */
  approve(orderRef: string, personReference?: number | string, options: { mrtd?: boolean } = {}): void {
    const order = this.#controlledOrder(orderRef, 'withApp');
    const reference = personReference ?? order.request.personalNumber ?? 0;
    const person = findSimulatedPerson(reference);
    if (!person) throw new SimulatorError(`There is no test person ${reference}`);
    const required = personalNumberOf(order.request);
    if (required && required !== person.personalNumber) {
      throw new SimulatorError(`Order ${orderRef} may only be completed by ${required}, not ${person.personalNumber}`);
    }
    finish(order, { status: 'complete', completionData: completionData(order, person, options.mrtd) });
  }

  /** The person answers the app's question: yes, they are in a call with the service. */
  confirmCall(orderRef: string): void {
    const order = this.#controlledOrder(orderRef, 'awaitingCallConfirm');
    order.outcome = { status: 'pending', hintCode: signingHint(order) };
  }

  /** The person answers no: they are not in a call with the service. */
  declineCall(orderRef: string): void {
    finish(this.#controlledOrder(orderRef, 'awaitingCallConfirm'), { status: 'failed', hintCode: 'userDeclinedCall' });
  }

  userCancel(orderRef: string): void {
    finish(this.#controlledOrder(orderRef, 'withApp'), { status: 'failed', hintCode: 'userCancel' });
  }

  expire(orderRef: string): void {
    this.fail(orderRef, 'expiredTransaction');
  }

  fail(orderRef: string, hintCode: string): void {
    if (!hintCode) throw new SimulatorError('A failed order needs a hintCode');
    finish(this.#controlledOrder(orderRef, 'pending'), { status: 'failed', hintCode });
  }

  views(): SimulatedOrderView[] {
    return this.#live().map(view);
  }

  orderRefByAutoStartToken(autoStartToken: string): string | undefined {
    return this.#live().find((order) => order.autoStartToken === autoStartToken)?.orderRef;
  }

  #forgetCancelled(): void {
    const now = Date.now();
    for (const [orderRef, { at }] of this.#cancelled) {
      if (now - at <= CANCELLED_KEPT_MS) break;
      this.#cancelled.delete(orderRef);
    }
  }

  #refuseSecondOrderForPerson(personalNumber: string | undefined): void {
    if (!personalNumber) return;
    const earlier = this.#live().find((order) => order.outcome.status === 'pending' && personalNumberOf(order.request) === personalNumber);
    if (!earlier) return;
    finish(earlier, { status: 'failed', hintCode: 'cancelled' });
    throw new RpApiError(400, 'alreadyInProgress', `An order for ${personalNumber} was already in progress; both are aborted`);
  }

  #apiOrder(orderRef: string): SimulatedOrder {
    const order = this.#current(orderRef);
    if (!order) throw invalidParameters(`No order ${orderRef}`);
    return order;
  }

  #controlledOrder(orderRef: string, stage: Stage): SimulatedOrder {
    const order = this.#current(orderRef);
    if (!order) throw new SimulatorError(`No order ${orderRef}`);
    this.#require(order, stage);
    return order;
  }

  #require(order: SimulatedOrder, stage: Stage): void {
    if (!stages[stage].holds(order)) {
      const state = [order.outcome.status, hintCodeOf(order)].filter(Boolean).join('/');
      throw new SimulatorError(`Order ${order.orderRef} ${stages[stage].refusal}; it is ${state}`);
    }
  }

  #live(): SimulatedOrder[] {
    return [...this.#orders.keys()].flatMap((orderRef) => this.#current(orderRef) ?? []);
  }

  /** The order as it stands now, or undefined once it is gone. */
  #current(orderRef: string): SimulatedOrder | undefined {
    const order = this.#orders.get(orderRef);
    if (!order) return undefined;
    const now = Date.now();
    this.#applyDeadline(order, now);
    if (now - (order.finishedAt ?? now) > COLLECTABLE_MS[order.outcome.status]) {
      this.#orders.delete(orderRef);
      return undefined;
    }
    return order;
  }

  #applyDeadline(order: SimulatedOrder, now: number): void {
    if (order.outcome.status !== 'pending') return;
    const deadline = order.pickedUpAt === undefined
      ? { at: order.createdAt + this.timing.pickupTimeoutMs, hintCode: 'startFailed' }
      : { at: order.pickedUpAt + this.timing.lifetimeMs, hintCode: 'expiredTransaction' };
    if (now >= deadline.at) finish(order, { status: 'failed', hintCode: deadline.hintCode }, deadline.at);
  }
}

/** The hint code an order shows once the app has it. */
const pickedUpHint: Record<Pickup, (order: SimulatedOrder) => string> = {
  qr: signingHint,
  autostart: () => 'started',
  phone: () => 'userCallConfirm',
};

function pickUp(order: SimulatedOrder, pickup: Pickup): void {
  order.pickedUpAt = Date.now();
  order.pickedUpBy = pickup;
  order.outcome = { status: 'pending', hintCode: pickedUpHint[pickup](order) };
}

/** The one person who may complete the order: the phone's owner, or the one its requirement names. */
function personalNumberOf(request: OrderRequest): string | undefined {
  return request.personalNumber ?? request.requirement?.personalNumber;
}

/** With an MRTD requirement the app first asks for the passport or ID card. */
function signingHint(order: SimulatedOrder): string {
  return order.request.requirement?.mrtd ? 'userMrtd' : 'userSign';
}

function finish(order: SimulatedOrder, outcome: FinalOutcome, at = Date.now()): void {
  order.outcome = outcome;
  order.finishedAt = at;
}

function hintCodeOf(order: SimulatedOrder): string | undefined {
  return 'hintCode' in order.outcome ? order.outcome.hintCode : undefined;
}

function elapsedSeconds(order: SimulatedOrder): number {
  return Math.floor((Date.now() - order.createdAt) / 1000);
}

function view(order: SimulatedOrder): SimulatedOrderView {
  return {
    orderRef: order.orderRef,
    kind: order.kind,
    status: order.outcome.status,
    hintCode: hintCodeOf(order),
    pickedUp: order.pickedUpAt !== undefined,
    qrPending: stages.awaitingPickup.holds(order),
    requirement: order.request.requirement,
    ...(order.request.personalNumber ? { personalNumber: order.request.personalNumber } : {}),
    ...(order.request.callInitiator ? { callInitiator: order.request.callInitiator } : {}),
    userVisibleData: order.request.userVisibleData,
    userVisibleTransaction: order.request.userVisibleTransaction,
    riskFlags: order.request.riskFlags,
    autoStartToken: order.autoStartToken,
    qrStartToken: order.qrStartToken,
    qrStartSecret: order.qrStartSecret,
    createdAt: new Date(order.createdAt).toISOString(),
  };
}
