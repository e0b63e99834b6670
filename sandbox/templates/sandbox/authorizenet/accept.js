/* Stand-in for Accept.js (https://js.authorize.net/v1/Accept.js) served by the Paydesk Authorize.Net sandbox.
 * Accept.dispatchData({authData: {clientKey, apiLoginID}, cardData: {cardNumber, month, year, cardCode, zip,
 * fullName}} or {..., bankData: {accountNumber, routingNumber, nameOnAccount, accountType}}, handler) posts the
 * fields, as JSON securePaymentContainerRequest, to the sandbox's API (never to the shop) and calls
 * handler({opaqueData: {dataDescriptor, dataValue}, messages: {resultCode, message: [{code, text}]}}). */
(function () {
  "use strict";
  var ENDPOINT = "{{ endpoint|escapejs }}";

  function fail(handler, code, text) {
    handler({ messages: { resultCode: "Error", message: [{ code: code, text: text }] } });
  }

  function dispatchData(secureData, responseHandler) {
    var handler = typeof responseHandler === "function" ? responseHandler : window[responseHandler];
    var auth = secureData.authData || {};
    var token;
    if (secureData.bankData) {
      var bank = secureData.bankData;
      token = { accountNumber: bank.accountNumber, routingNumber: bank.routingNumber,
                nameOnAccount: bank.nameOnAccount, accountType: bank.accountType };
    } else {
      var card = secureData.cardData || {};
      var year = String(card.year || "");
      token = { cardNumber: String(card.cardNumber || "").replace(/\D/g, ""),
                expirationDate: String(card.month || "") + (year.length === 4 ? year.slice(2) : year),
                cardCode: card.cardCode || "", zip: card.zip || "", fullName: card.fullName || "" };
    }
    var body = { securePaymentContainerRequest: {
      merchantAuthentication: { name: auth.apiLoginID, clientKey: auth.clientKey },
      data: { type: "TOKEN", id: String(Date.now()), token: token } } };
    fetch(ENDPOINT, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then(function (response) { return response.text(); })
      .then(function (text) { handler(JSON.parse(text.replace(/^\uFEFF/, ""))); },
            function () { fail(handler, "E_WC_14", "Accept.js encryption failed."); });
  }

  window.Accept = { dispatchData: dispatchData };
})();
