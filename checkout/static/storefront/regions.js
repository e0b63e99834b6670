/* The address form's region dropdown follows the country: when the buyer picks another country, its regions are
   loaded. Without this script the form still works: the server lists the regions of the country it was sent. */
(function () {
  document.querySelectorAll("select[data-regions-url]").forEach(function (region) {
    var prefix = region.name.slice(0, region.name.length - "region_code".length);
    var country = region.form && region.form.querySelector('select[name="' + prefix + 'country"]');
    if (!country) { return; }
    country.addEventListener("change", function () {
      fetch(region.getAttribute("data-regions-url") + "?country=" + encodeURIComponent(country.value))
        .then(function (reply) { return reply.json(); })
        .then(function (data) {
          region.length = 0;
          region.add(new Option(data.regions.length ? "Choose a region" : "None for this country", ""));
          data.regions.forEach(function (r) { region.add(new Option(r.name, r.code)); });
        });
    });
  });
})();
