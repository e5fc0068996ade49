// Sign-up (templates/registration/signup.html), for those with JavaScript; without it the
// server makes the page address from the company name and the page's time zone is UTC.
// - The page address follows the company name as it is typed ("Acme Corp" → "acme-corp")
//   until the address is edited by hand.
// - The hidden time_zone field gets the browser's time zone (the server keeps it only when it
//   is a current IANA name).
(function () {
  "use strict";

  function slugify(text) {
    return text
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+/, "")
      .slice(0, 40)
      .replace(/-+$/, "");
  }

  document.addEventListener("DOMContentLoaded", function () {
    var zone = document.getElementById("id_time_zone");
    if (zone && !zone.value) {
      try {
        zone.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
      } catch (error) {
        // An old browser: the server uses UTC.
      }
    }

    var company = document.getElementById("id_company");
    var slug = document.getElementById("id_page_slug");
    if (!company || !slug) return;
    // An address already there (sent back with an error) is the user's own.
    var following = slug.value === "" || slug.value === slugify(company.value);
    company.addEventListener("input", function () {
      if (following) slug.value = slugify(company.value);
    });
    slug.addEventListener("input", function () {
      following = slug.value === "";
    });
  });
})();
