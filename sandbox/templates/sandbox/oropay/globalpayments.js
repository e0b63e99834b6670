/* Stand-in for globalpayments-js (js.globalpay.com) served by the Paydesk OroPay (GP-API) sandbox.
 * GlobalPayments.configure({accessToken, apiVersion, env}) takes the restricted token the shop minted;
 * GlobalPayments.ui.form({fields: {"card-number": {target}, "card-expiration": {target}, "card-cvv": {target},
 * submit: {target, text}}}) draws the card fields (the real library draws iframes), and the bank fields
 * "account-number", "routing-number", "account-type" for ACH. Its submit button posts them to the sandbox's
 * /ucp/payment-methods (never to the shop) and emits "token-success" ({paymentReference: "PMT_…", details}) or
 * "token-error" ({error: {message}}). The fields have no name, so no shop form ever sends them. */
(function () {
  "use strict";
  var API = "{{ api_base|escapejs }}";
  var config = {};

  function input(target, attrs) {
    var host = typeof target === "string" ? document.querySelector(target) : target;
    var el = document.createElement(attrs.tag || "input");
    Object.keys(attrs).forEach(function (k) { if (k !== "tag" && k !== "options") { el.setAttribute(k, attrs[k]); } });
    (attrs.options || []).forEach(function (o) {
      var opt = document.createElement("option"); opt.value = o[0]; opt.textContent = o[1]; el.appendChild(opt);
    });
    host.appendChild(el);
    return el;
  }

  function form(options) {
    var fields = options.fields || {};
    var handlers = {};
    var els = {};
    var labels = {"card-number": "Card number", "card-expiration": "Expiry (MM / YY)", "card-cvv": "Security code",
                  "account-number": "Account number", "routing-number": "Routing number",
                  "account-type": "Account type"};
    Object.keys(fields).forEach(function (name) {
      if (name === "submit") { return; }
      var attrs = {"aria-label": labels[name] || name, "data-gp-field": name, autocomplete: "off"};
      if (name === "account-type") {
        attrs.tag = "select"; attrs.options = [["CHECKING", "Checking"], ["SAVING", "Savings"]];
      } else {
        attrs.type = "text"; attrs.inputmode = "numeric";
      }
      els[name] = input(fields[name].target, attrs);
    });
    function emit(event, data) { (handlers[event] || []).forEach(function (fn) { fn(data); }); }
    function tokenize() {
      var body = {usage_mode: "SINGLE"};
      if (els["card-number"]) {
        var exp = (els["card-expiration"].value || "").replace(/\s/g, "").split("/");
        body.card = {number: els["card-number"].value.replace(/\D/g, ""), expiry_month: exp[0] || "",
                     expiry_year: (exp[1] || "").slice(-2), cvv: els["card-cvv"] ? els["card-cvv"].value.trim() : ""};
      } else {
        body.bank_transfer = {account_number: els["account-number"].value.replace(/\D/g, ""),
                              account_type: els["account-type"] ? els["account-type"].value : "CHECKING",
                              bank: {code: els["routing-number"].value.replace(/\D/g, "")}};
      }
      fetch(API + "/payment-methods", {method: "POST", body: JSON.stringify(body),
            headers: {"Content-Type": "application/json", "Authorization": "Bearer " + config.accessToken,
                      "X-GP-Version": config.apiVersion || "2021-03-22"}})
        .then(function (r) { return r.json().then(function (j) { return [r.status, j]; }); })
        .then(function (pair) {
          if (pair[0] !== 201) {
            emit("token-error", {error: {code: pair[1].error_code, message: pair[1].detailed_error_description}});
            return;
          }
          Object.keys(els).forEach(function (k) { if (els[k].tagName === "INPUT") { els[k].value = ""; } });
          emit("token-success", {paymentReference: pair[1].id, details: pair[1].card || pair[1].bank_transfer || {}});
        }, function () { emit("token-error", {error: {message: "The payment service could not be reached."}}); });
    }
    if (fields.submit) {
      var button = input(fields.submit.target, {tag: "button", type: "button", "data-gp-field": "submit"});
      button.textContent = fields.submit.text || "Submit";
      button.addEventListener("click", tokenize);
    }
    return {on: function (event, fn) { (handlers[event] = handlers[event] || []).push(fn); }, tokenize: tokenize};
  }

  window.GlobalPayments = {configure: function (c) { config = c || {}; }, ui: {form: form}};
})();
