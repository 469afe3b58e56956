/**
 * Where an in-dialog request goes (RFC 3261 §12.2.1.1): its Request-URI, its Route header
 * values and the next hop the core resolves (RFC 3263), for loose and strict routing.
 */
import type { NameAddr } from '../message/index.js';
import { SipUri } from '../uri.js';

export interface RequestAddress {
  requestUri: SipUri;
  /** Route header values, in order. */
  routes: string[];
  /** The URI the request is sent to: the first route's, else the remote target. */
  nextHop: SipUri;
}

export function isLooseRoute(route: NameAddr): boolean {
  return route.uri instanceof SipUri && route.uri.paramsView.has('lr');
}

/**
 * The URIs returned are the remote target's and the route's own objects where they are used as
 * they are (requests read them, never change them: a message's typed values are views for
 * reading); a strict route's, which is changed, is a copy.
 */
export function addressRequest(remoteTarget: SipUri, routeSet: readonly NameAddr[]): RequestAddress {
  const first = routeSet[0];
  if (first === undefined) {
    return { requestUri: remoteTarget, routes: [], nextHop: remoteTarget };
  }
  const firstUri = first.uri as SipUri;
  if (isLooseRoute(first)) {
    return {
      requestUri: remoteTarget,
      routes: routeSet.map((route) => route.toString()),
      nextHop: firstUri,
    };
  }
  // RFC 3261 §12.2.1.1: a strict router expects its own URI as the Request-URI, with the
  // parameters a Request-URI may not carry stripped (§19.1.1 Table 1: method, headers); the
  // remote target travels as the last Route value.
  const requestUri = firstUri.clone();
  requestUri.params.delete('method');
  requestUri.headers.clear();
  const routes = routeSet.slice(1).map((route) => route.toString());
  routes.push(`<${remoteTarget.toString()}>`);
  return { requestUri, routes, nextHop: requestUri.clone() };
}
