//! The console's page shell: the document head with the embedded stylesheet, the
//! navigation (settings only for admins), the signed-in user with *Sign out*, and
//! the bare page used for errors and the sign-in forms. Nothing is loaded from
//! elsewhere: the CSS is in the binary and inlined, so the console works offline.

use maud::{html, Markup, DOCTYPE};

use super::session::{ConsoleUser, CSRF_FIELD};

/// The whole stylesheet: readable from 390 px (phones) to wide screens.
const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2430;background:#f5f6f8}
a{color:#2454c5}
header{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center;padding:.6rem 1rem;background:#1f2430;color:#fff}
header a{color:#fff;text-decoration:none}
header .brand{font-weight:600}
nav ul{display:flex;flex-wrap:wrap;gap:.25rem 1rem;list-style:none;margin:0;padding:0}
nav a[aria-current=page]{text-decoration:underline}
header .who{margin-left:auto;display:flex;gap:.5rem;align-items:center}
main{max-width:64rem;margin:1rem auto;padding:0 1rem}
section,.card{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:1rem;margin:0 0 1rem;overflow-x:auto}
h1{font-size:1.4rem;margin:.5rem 0 1rem}
h2{font-size:1.1rem;margin:0 0 .75rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem;margin:0 0 1rem}
dt{font-weight:600}
dd{margin:0;overflow-wrap:anywhere}
label{display:block;font-weight:600;margin:.5rem 0 .2rem}
input[type=text],input[type=email],input[type=password]{width:100%;max-width:28rem;padding:.45rem;border:1px solid #b8bfcc;border-radius:4px;font:inherit}
button{font:inherit;padding:.45rem .9rem;border-radius:4px;border:1px solid #2454c5;background:#2454c5;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#2454c5}
button.danger{background:#b3261e;border-color:#b3261e}
button:focus-visible,a:focus-visible,input:focus-visible{outline:3px solid #f0b400;outline-offset:2px}
form.inline{display:inline}
.flash{padding:.6rem .8rem;border-radius:4px;margin:0 0 1rem}
.flash.ok{background:#e3f4e8;border:1px solid #8cc79d}
.flash.error{background:#fdecea;border:1px solid #e8a39d}
.status-connected{color:#17692f;font-weight:600}
.status-needs_reconnection,.status-error{color:#b3261e;font-weight:600}
.status-disconnected{color:#5b6270;font-weight:600}
.muted{color:#5b6270}
progress{width:100%;height:1.4rem;margin:.25rem 0 1rem}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #dde1e8;vertical-align:top}
select{font:inherit;padding:.4rem;max-width:28rem;width:100%}
.with-sidebar{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,26rem);gap:1rem;align-items:start}
@media (max-width:760px){.with-sidebar{grid-template-columns:minmax(0,1fr)}}
h3{font-size:1rem;margin:1rem 0 .5rem}
.deals{list-style:none;padding:0;margin:0}.deals li{padding:.4rem 0;border-bottom:1px solid #dde1e8}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
"#;

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Keva Sync" }
            style { (maud::PreEscaped(CSS)) }
        }
    }
}

/// Where a page sits in the navigation (marked as the current page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Home,
    IntegrationsHubspot,
    Mappings,
    Customers,
    Tickets,
    Batch,
    Jobs,
    History,
    Webhooks,
}

/// A signed-in page.
pub fn page(user: &ConsoleUser, title: &str, current: Nav, body: Markup) -> Markup {
    let link = |nav: Nav, href: &str, text: &str| {
        html! {
            li { a href=(href) aria-current=[(nav == current).then_some("page")] { (text) } }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header {
                    a.brand href="/" { "Keva Sync" }
                    nav aria-label="Console" {
                        ul {
                            (link(Nav::Home, "/", "Home"))
                            (link(Nav::Customers, super::customers::PATH, "Customers"))
                            (link(Nav::Tickets, super::tickets::PATH, "Tickets"))
                            @if user.is_admin() {
                                (link(Nav::IntegrationsHubspot, "/settings/integrations/hubspot", "Integrations → HubSpot"))
                                (link(Nav::Mappings, super::mappings::PATH, "CRM Sync → HubSpot"))
                                (link(Nav::Batch, super::batch::PATH, "Run Batch Sync"))
                                (link(Nav::Webhooks, super::webhooks::PATH, "Webhooks"))
                                (link(Nav::History, super::history::PATH, "Sync history"))
                                (link(Nav::Jobs, super::jobs::PATH, "Jobs"))
                            }
                        }
                    }
                    div.who {
                        span { (user.user.email) " (" (user.user.role) ")" }
                        form.inline method="post" action="/sign-out" {
                            (csrf_input(&user.csrf))
                            button.secondary type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A page without navigation (sign-in, errors).
pub fn bare(title: &str, message: &str) -> Markup {
    bare_with(
        title,
        html! { p { (message) } p { a href="/" { "Back to the console" } } },
    )
}

/// A page without navigation around `body`.
pub fn bare_with(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header { a.brand href="/" { "Keva Sync" } }
                main { h1 { (title) } (body) }
            }
        }
    }
}

/// The hidden CSRF field every console form carries.
pub fn csrf_input(token: &str) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(token); }
}

/// A success or error notice at the top of a page.
pub fn flash(ok: bool, message: &str) -> Markup {
    html! {
        div.flash.ok[ok].error[!ok] role=(if ok { "status" } else { "alert" }) { (message) }
    }
}
