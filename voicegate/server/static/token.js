// The page's token: renewed at once and every half lifetime (POST token/renew), kept in the page
// address so a reload keeps working. A token lives `exp - iat` seconds; no clock of the browser's
// is compared with the server's, and a late timer still has half a lifetime to spare.

import { endpoint } from "./transports.js";

function payload(value) {
  try {
    return JSON.parse(atob(value.split(".")[0].replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    return null;
  }
}

export class PageToken {
  /** `onRenewed()` after each renewal; `onRefused(httpStatus)` when the server refuses the token. */
  constructor(value, { onRenewed, onRefused }) {
    this.value = value;
    this.onRenewed = onRenewed;
    this.onRefused = onRefused;
    this.renewals = 0;
  }

  /** Whether the token's expiry has passed by this browser's clock. */
  expired() {
    const claims = payload(this.value);
    return claims !== null && claims.exp * 1000 < Date.now();
  }

  /** Renew now, then every half lifetime; network failures are retried soon. */
  async renew() {
    const claims = payload(this.value);
    if (!claims) return;
    const lifetimeMs = (claims.exp - claims.iat) * 1000;
    let response;
    try {
      response = await fetch(endpoint("token/renew"), {
        method: "POST",
        headers: { Authorization: `Bearer ${this.value}` },
      });
    } catch {
      setTimeout(() => this.renew(), lifetimeMs / 8); // the network failed: try again soon
      return;
    }
    if (!response.ok) {
      this.onRefused(response.status);
      return;
    }
    this.value = (await response.json()).token;
    this.renewals += 1;
    const address = new URL(location.href);
    address.searchParams.set("token", this.value);
    history.replaceState(null, "", address); // a reload keeps working too
    this.onRenewed();
    setTimeout(() => this.renew(), lifetimeMs / 2);
  }
}
