/* Stand-in for https://js.stripe.com/v3/ served by the Paydesk Stripe sandbox.
 * Card fields are built by this script; their values go to the sandbox's /v1/payment_methods with the
 * publishable key and never to the shop: the inputs have no name attribute, so no form submits them.
 * API subset: Stripe(pk).elements().create('card').mount(el); stripe.createPaymentMethod({type:'card', card}). */
(function () {
  "use strict";
  var API_BASE = "{{ api_base|escapejs }}";

  function input(placeholder, autocomplete, size) {
    var el = document.createElement("input");
    el.type = "text";
    el.inputMode = "numeric";
    el.placeholder = placeholder;
    el.autocomplete = autocomplete;
    el.size = size;
    el.setAttribute("aria-label", placeholder);
    el.setAttribute("data-stripe-sandbox", autocomplete);
    return el;
  }

  function CardElement() {
    this.number = input("Card number", "cc-number", 20);
    this.expiry = input("MM / YY", "cc-exp", 7);
    this.cvc = input("CVC", "cc-csc", 4);
    this._listeners = {};
  }
  CardElement.prototype.mount = function (target) {
    var host = typeof target === "string" ? document.querySelector(target) : target;
    var wrapper = document.createElement("div");
    wrapper.className = "stripe-sandbox-card";
    [this.number, this.expiry, this.cvc].forEach(function (el) { wrapper.appendChild(el); });
    host.appendChild(wrapper);
    var self = this;
    [this.number, this.expiry, this.cvc].forEach(function (el) {
      el.addEventListener("input", function () { self._emit("change", { complete: self._complete() }); });
    });
    return this;
  };
  CardElement.prototype._complete = function () {
    return this.number.value.replace(/\D/g, "").length >= 12 && /\d{1,2}\s*\/\s*\d{2,4}/.test(this.expiry.value);
  };
  CardElement.prototype.on = function (name, fn) { (this._listeners[name] = this._listeners[name] || []).push(fn); };
  CardElement.prototype._emit = function (name, event) { (this._listeners[name] || []).forEach(function (fn) { fn(event); }); };
  CardElement.prototype.clear = function () { this.number.value = this.expiry.value = this.cvc.value = ""; };

  function Stripe(publishableKey) {
    if (!(this instanceof Stripe)) { return new Stripe(publishableKey); }
    this.key = publishableKey;
  }
  Stripe.prototype.elements = function () {
    return { create: function (type) { if (type !== "card") { throw new Error("sandbox: only 'card'"); } return new CardElement(); } };
  };
  Stripe.prototype.createPaymentMethod = function (options) {
    var card = options.card;
    var expiry = card.expiry.value.split("/");
    var body = new URLSearchParams({
      "type": "card",
      "card[number]": card.number.value.replace(/\D/g, ""),
      "card[exp_month]": (expiry[0] || "").trim(),
      "card[exp_year]": (expiry[1] || "").trim(),
      "card[cvc]": card.cvc.value.trim()
    });
    return fetch(API_BASE + "/v1/payment_methods", {
      method: "POST",
      headers: { "Authorization": "Bearer " + this.key, "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString()
    }).then(function (response) {
      return response.json().then(function (json) {
        return response.ok ? { paymentMethod: json } : { error: json.error };
      });
    }, function () {
      return { error: { type: "api_connection_error", message: "Could not reach the payment provider." } };
    });
  };
  window.Stripe = Stripe;
})();
