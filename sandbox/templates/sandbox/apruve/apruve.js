/* Stand-in for Apruve's apruve.js (v4): the shop's page sets the order and its secure hash, starts the checkout,
   and hears back through the registered callbacks. The lightbox is a page of the Apruve sandbox in an overlay. */
(function () {
  var LIGHTBOX = "{{ lightbox|escapejs }}";
  var origin = new URL(LIGHTBOX).origin;
  var apruve = {
    APRUVE_LAUNCHED_EVENT: "APRUVE_LAUNCHED_EVENT",
    APRUVE_COMPLETE_EVENT: "APRUVE_COMPLETE_EVENT",
    APRUVE_CLOSED_EVENT: "APRUVE_CLOSED_EVENT",
    _callbacks: {},
    _order: null,
    _hash: "",
    _overlay: null
  };
  apruve.setOrder = function (order, secureHash) {
    apruve._order = typeof order === "string" ? order : JSON.stringify(order);
    apruve._hash = secureHash;
  };
  apruve.registerApruveCallback = function (event, callback) {
    (apruve._callbacks[event] = apruve._callbacks[event] || []).push(callback);
  };
  function fire(event, value) {
    (apruve._callbacks[event] || []).forEach(function (callback) { callback(value); });
  }
  function close() {
    if (apruve._overlay) { apruve._overlay.remove(); apruve._overlay = null; }
  }
  window.addEventListener("message", function (event) {
    if (event.origin !== origin || !event.data || !event.data.apruve) return;
    close();
    if (event.data.apruve === "complete") fire(apruve.APRUVE_COMPLETE_EVENT, event.data.order_id);
    else fire(apruve.APRUVE_CLOSED_EVENT);
  });
  apruve.startCheckout = function () {
    close();
    var overlay = document.createElement("div");
    overlay.setAttribute("style", "position:fixed;inset:0;background:rgba(0,0,0,.45);z-index:9999;display:flex;" +
      "align-items:center;justify-content:center");
    var frame = document.createElement("iframe");
    frame.title = "Apruve";
    frame.name = "apruve-lightbox";
    frame.setAttribute("style", "width:32rem;height:28rem;border:0;background:#fff;border-radius:6px");
    overlay.appendChild(frame);
    document.body.appendChild(overlay);
    apruve._overlay = overlay;
    var form = document.createElement("form");
    form.method = "post";
    form.action = LIGHTBOX;
    form.target = "apruve-lightbox";
    [["order", apruve._order], ["secure_hash", apruve._hash], ["outcome", "show"]].forEach(function (pair) {
      var input = document.createElement("input");
      input.type = "hidden"; input.name = pair[0]; input.value = pair[1];
      form.appendChild(input);
    });
    document.body.appendChild(form);
    form.submit();
    form.remove();
    fire(apruve.APRUVE_LAUNCHED_EVENT);
  };
  window.apruve = apruve;
})();
