//! The console's people over HTTP, on both backends: password sign-in and
//! sign-out with the cookie's flags, one-time sign-in links (which can set a
//! password), rate-limited attempts (per account, and failures per source
//! address: one address spraying many accounts waits while another address and
//! correct sign-ins are not held), CSRF on every form, roles (an agent gets 403
//! on settings) and workspaces (another workspace's ids are 404), and the
//! Integrations → HubSpot page's private-app connect and disconnect.

use std::net::{IpAddr, Ipv4Addr};

use keva_server::console::session::{hash_token, SignInLimits};
use keva_store::{Backend, UserRole};

use crate::console_support::{signed_in, user, user_in, Page, Visitor, PASSWORD};
use crate::harness::TestApp;

async fn password_sign_in_and_sign_out(app: TestApp) {
    user(&app, "Admin@Acme.example", UserRole::Admin).await;
    let mut v = Visitor::new(&app);

    // Not signed in: every page sends the browser to sign in, then back.
    let page = v.get("/settings/integrations/hubspot").await;
    assert_eq!(page.status, 303);
    assert_eq!(
        page.location(),
        "/sign-in?next=%2Fsettings%2Fintegrations%2Fhubspot"
    );

    let form = v
        .get("/sign-in?next=%2Fsettings%2Fintegrations%2Fhubspot")
        .await;
    assert_eq!(form.status, 200);
    let pre = form.set_cookie("keva_pre").expect("pre-session cookie");
    assert!(
        pre.contains("HttpOnly") && pre.contains("SameSite=Lax"),
        "{pre}"
    );
    let page = v
        .post(
            "/sign-in",
            &[
                ("csrf", &form.csrf()),
                ("workspace", "acme"),
                ("email", " admin@acme.EXAMPLE "),
                ("password", PASSWORD),
                ("next", "/settings/integrations/hubspot"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location(), "/settings/integrations/hubspot");
    let cookie = page.set_cookie("keva_session").expect("session cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(flag), "{flag} in {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain-http public URL: {cookie}"
    );

    // The store keeps only the token's hash.
    let token = v.cookies["keva_session"].clone();
    let signed = app.store.session_user(&hash_token(&token)).await.unwrap();
    assert_eq!(signed.unwrap().email, "Admin@Acme.example");

    let home = v.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Admin@Acme.example"), "{}", home.body);
    assert!(home.body.contains("Integrations → HubSpot"));

    // Sign out ends the session in the database, not only in this browser.
    let out = v.submit("/", "/sign-out", &[]).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location(), "/sign-in");
    assert!(!v.cookies.contains_key("keva_session"));
    assert!(app
        .store
        .session_user(&hash_token(&token))
        .await
        .unwrap()
        .is_none());
    v.cookies.insert("keva_session".into(), token);
    assert_eq!(v.get("/").await.status, 303, "a revoked cookie is refused");
}

async fn attempt(v: &mut Visitor, workspace: &str, email: &str, password: &str) -> Page {
    let fields = [
        ("workspace", workspace),
        ("email", email),
        ("password", password),
    ];
    v.submit("/sign-in", "/sign-in", &fields).await
}

async fn wrong_passwords_are_refused_and_attempts_limited(app: TestApp) {
    user(&app, "admin@acme.example", UserRole::Admin).await;
    let mut v = Visitor::new(&app);
    for (workspace, email) in [
        ("acme", "admin@acme.example"),
        ("acme", "nobody@acme.example"),
        ("other", "admin@acme.example"),
    ] {
        let page = attempt(&mut v, workspace, email, "not the password").await;
        assert_eq!(page.status, 401, "{workspace}/{email}");
        assert!(page.body.contains("Wrong workspace, email or password."));
        assert!(!v.cookies.contains_key("keva_session"));
    }
    // Five attempts a minute per account: three more wrong ones use them up…
    for _ in 0..4 {
        let page = attempt(&mut v, "acme", "admin@acme.example", "still wrong!").await;
        assert_eq!(page.status, 401);
    }
    // …and then even the right password waits.
    let page = attempt(&mut v, "acme", "admin@acme.example", PASSWORD).await;
    assert_eq!(page.status, 429, "{}", page.body);
    assert!(page.body.contains("Too many sign-in attempts"));
    assert!(!v.cookies.contains_key("keva_session"));
    // Another account is not held back.
    user(&app, "second@acme.example", UserRole::Admin).await;
    v.sign_in("acme", "second@acme.example", PASSWORD).await;
}

async fn sign_in_links_work_once_and_can_set_a_password(app: TestApp) {
    let created = keva_server::console::users::create_user(
        &app.store,
        &app.url,
        "acme",
        "agent@acme.example",
        UserRole::Agent,
        None,
        false,
    )
    .await
    .unwrap();
    assert!(!created.user.has_password);
    let link = created.sign_in_link;
    let path = link.strip_prefix(&app.url).expect("link on the public URL");
    let token = path.split("token=").nth(1).unwrap().to_string();

    // Opening the link only shows a button (a link preview does not use it up).
    let mut v = Visitor::new(&app);
    let page = v.get(path).await;
    assert_eq!(page.status, 200);
    assert!(!v.cookies.contains_key("keva_session"));
    let csrf = page.csrf();
    let short = v
        .post(
            "/sign-in/link",
            &[
                ("csrf", &csrf),
                ("token", &token),
                ("new_password", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, 400, "too-short password: {}", short.body);
    let page = v
        .post(
            "/sign-in/link",
            &[
                ("csrf", &csrf),
                ("token", &token),
                ("new_password", "a new long password"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(v.get("/").await.status, 200);

    // Used: another browser cannot use it again.
    let mut other = Visitor::new(&app);
    let csrf = other.get(path).await.csrf();
    let again = other
        .post("/sign-in/link", &[("csrf", &csrf), ("token", &token)])
        .await;
    assert_eq!(again.status, 400);
    assert!(again.body.contains("unknown, used or expired"));
    assert!(!other.cookies.contains_key("keva_session"));

    // The password it set works.
    other
        .sign_in("acme", "agent@acme.example", "a new long password")
        .await;
}

async fn forms_without_their_csrf_token_are_refused(app: TestApp) {
    let mut admin = signed_in(&app, "admin@acme.example", UserRole::Admin).await;
    let mut intruder = signed_in(&app, "other@acme.example", UserRole::Admin).await;
    let theirs = intruder.get("/").await.csrf();

    for fields in [
        vec![],
        vec![("csrf", "forged")],
        vec![("csrf", theirs.as_str())],
    ] {
        let page = admin.post("/sign-out", &fields).await;
        assert_eq!(page.status, 403, "{fields:?}");
        assert!(page.body.contains("CSRF"));
        let page = admin
            .post("/settings/integrations/hubspot/token", &{
                let mut f = fields.clone();
                f.push(("access_token", "pat-na1-whatever"));
                f
            })
            .await;
        assert_eq!(page.status, 403, "{fields:?}");
    }
    assert_eq!(admin.get("/").await.status, 200, "still signed in");
    assert_eq!(app.connector_count().await, 0, "nothing connected");

    // The sign-in form too (its token comes from the pre-session cookie).
    let mut v = Visitor::new(&app);
    v.get("/sign-in").await;
    let page = v
        .post(
            "/sign-in",
            &[
                ("workspace", "acme"),
                ("email", "admin@acme.example"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(page.status, 403);
    assert!(!v.cookies.contains_key("keva_session"));
}

async fn agents_get_403_on_settings_and_other_workspaces_ids_404(app: TestApp) {
    let mut agent = signed_in(&app, "agent@acme.example", UserRole::Agent).await;
    let home = agent.get("/").await;
    assert_eq!(home.status, 200);
    assert!(
        !home.body.contains("/settings/"),
        "no settings links for agents"
    );
    let page = agent.get("/settings/integrations/hubspot").await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("for admins"));
    let csrf = home.csrf();
    let page = agent
        .post("/settings/integrations/hubspot/connect", &[("csrf", &csrf)])
        .await;
    assert_eq!(page.status, 403);

    // Another workspace's connector: 404 for an admin of this one, untouched.
    let (_, theirs) =
        keva_store::testing::workspace_with_connector(&app.store, "globex", 424_242).await;
    let mut admin = signed_in(&app, "admin@acme.example", UserRole::Admin).await;
    let path = format!("/settings/integrations/hubspot/connectors/{theirs}/disconnect");
    let page = admin.submit("/", &path, &[]).await;
    assert_eq!(page.status, 404, "{}", page.body);
    let page = admin
        .submit(
            "/",
            "/settings/integrations/hubspot/connectors/not-a-uuid/disconnect",
            &[],
        )
        .await;
    assert_eq!(page.status, 404);
    let globex = app.workspace_id_of("globex").await;
    let c = app
        .store
        .get_connector(globex, theirs)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.status.as_str(), "connected");

    // And globex's own admin does not see acme's console as theirs.
    user_in(&app, "globex", "admin@globex.example", UserRole::Admin).await;
    let mut g = Visitor::new(&app);
    let refused = g
        .try_sign_in("acme", "admin@globex.example", PASSWORD)
        .await;
    assert_eq!(refused.status, 401);
}

async fn session_cookies_are_secure_behind_https(backend: Backend) {
    let app = TestApp::builder(backend)
        .settings(|s| s.server.public_url = "https://console.example".into())
        .build()
        .await;
    user(&app, "admin@acme.example", UserRole::Admin).await;
    let mut v = Visitor::new(&app);
    let page = v.try_sign_in("acme", "admin@acme.example", PASSWORD).await;
    assert_eq!(page.status, 303);
    let cookie = page.set_cookie("keva_session").unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

async fn integrations_page_connects_with_a_token_and_disconnects(app: TestApp) {
    let mut v = signed_in(&app, "admin@acme.example", UserRole::Admin).await;
    let path = "/settings/integrations/hubspot";
    let page = v.get(path).await;
    assert_eq!(page.status, 200);
    assert_shows_status(&page, "disconnected");
    assert!(page.body.contains("Connect with a private app token"));

    // HubSpot's refusal is shown on the page, nothing stored.
    let bad = v
        .submit(
            path,
            &format!("{path}/token"),
            &[("access_token", "pat-na1-wrong")],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(
        bad.body.contains("HubSpot rejected the token"),
        "{}",
        bad.body
    );
    assert_eq!(app.connector_count().await, 0, "nothing connected");

    let token = app.sb().access_token().to_string();
    let done = v
        .submit(path, &format!("{path}/token"), &[("access_token", &token)])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let portal = app.sb().portal_id();
    let page = v.get(done.location()).await;
    assert_shows_status(&page, "connected");
    assert!(page
        .body
        .contains(&format!("HubSpot portal {portal} is connected.")));
    assert!(page.body.contains(&format!(
        "href=\"https://app.hubspot.com/contacts/{portal}\""
    )));
    assert!(!page.body.contains(&token), "the token is never shown");

    // The API sees the same connector (one code path).
    let api = app
        .expect(app.get("/api/crm/hubspot/connectors"), 200, "list")
        .await;
    let id = api["data"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(api["data"][0]["status"], "connected");

    let done = v
        .submit(path, &format!("{path}/connectors/{id}/disconnect"), &[])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let page = v.get(done.location()).await;
    assert_shows_status(&page, "disconnected");
    assert!(page.body.contains("Reconnect"));
    let api = app
        .expect(
            app.get(&format!("/api/crm/hubspot/connectors/{id}")),
            200,
            "get",
        )
        .await;
    assert_eq!(api["status"], "disconnected");
}

mod plain {
    keva_store::backend_tests!(with = crate::harness::plain;
        password_sign_in_and_sign_out,
        wrong_passwords_are_refused_and_attempts_limited,
        sign_in_links_work_once_and_can_set_a_password,
        forms_without_their_csrf_token_are_refused,
        agents_get_403_on_settings_and_other_workspaces_ids_404,
    );
    use super::*;
}

mod sandboxed {
    keva_store::backend_tests!(with = crate::harness::sandboxed;
        integrations_page_connects_with_a_token_and_disconnects,
    );
    use super::*;
}

/// A Connect clicked in the console is finished only in the browser of the person
/// who clicked it: a callback opened anywhere else is refused and stores nothing.
async fn a_console_connect_finishes_only_in_its_persons_browser(app: TestApp) {
    use crate::oauth_connect::SECOND_PORTAL;
    let path = "/settings/integrations/hubspot";
    let connect = format!("{path}/connect");
    let mut admin = signed_in(&app, "admin@acme.example", UserRole::Admin).await;
    let mut colleague = signed_in(&app, "other@acme.example", UserRole::Admin).await;
    let mut anonymous = Visitor::new(&app);
    for stranger in [&mut colleague, &mut anonymous] {
        let started = admin.submit(path, &connect, &[]).await;
        assert_eq!(started.status, 303, "{}", started.body);
        let callback = keva_sandbox::consent::decide(started.location(), SECOND_PORTAL, "approve")
            .await
            .unwrap();
        let back = callback.strip_prefix(&app.url).unwrap().to_string();
        let refused = stranger.get(&back).await;
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert!(refused.body.contains("wrong_person"), "{}", refused.body);
        assert_eq!(app.connector_count().await, 0, "nothing connected");
    }
    // The person who clicked Connect: connected.
    let started = admin.submit(path, &connect, &[]).await;
    let callback = keva_sandbox::consent::decide(started.location(), SECOND_PORTAL, "approve")
        .await
        .unwrap();
    let done = admin.get(callback.strip_prefix(&app.url).unwrap()).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(
        done.location().contains("hubspot=connected"),
        "{}",
        done.location()
    );
    assert_eq!(app.connector_count().await, 1);
}

mod with_oauth {
    keva_store::backend_tests!(with = crate::oauth_connect::oauth_app;
        a_console_connect_finishes_only_in_its_persons_browser,
    );
    use super::*;
}

keva_store::backend_tests!(
    session_cookies_are_secure_behind_https,
    sign_in_failures_are_limited_per_address_and_attempts_per_account
);

/// Loopback addresses other than 127.0.0.1 for sign-ins to come from (Linux
/// routes all of 127.0.0.0/8 to the loopback interface).
const OTHER_LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const THIRD_LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

/// Signs in from `source` with a fresh browser: the status, the page and whether
/// a session cookie was set.
async fn sign_in_from(
    app: &TestApp,
    source: IpAddr,
    email: &str,
    password: &str,
) -> (u16, String, bool) {
    let http = reqwest::Client::builder()
        .local_address(source)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = http
        .get(format!("{}/sign-in", app.url))
        .send()
        .await
        .unwrap();
    let pre = form
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_string();
    let csrf = crate::console_support::csrf_in(&form.text().await.unwrap());
    let r = http
        .post(format!("{}/sign-in", app.url))
        .header("cookie", pre)
        .form(&[
            ("csrf", csrf.as_str()),
            ("workspace", "acme"),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.starts_with("keva_session=")));
    if status == 429 {
        assert_eq!(
            r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
            Some("60")
        );
    }
    (status, r.text().await.unwrap(), session)
}

async fn sign_in_failures_are_limited_per_address_and_attempts_per_account(backend: Backend) {
    let app = TestApp::builder(backend)
        .settings(|s| {
            s.sign_in = SignInLimits {
                attempts_per_account_per_minute: 4,
                failures_per_address_per_minute: 3,
            }
        })
        .build()
        .await;
    let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
    for who in ["admin", "fresh", "held"] {
        user(&app, &format!("{who}@acme.example"), UserRole::Admin).await;
    }
    // Correct sign-ins from one address are not counted against it.
    for _ in 0..4 {
        let (status, body, session) =
            sign_in_from(&app, local, "admin@acme.example", PASSWORD).await;
        assert_eq!(status, 303, "{body}");
        assert!(session);
    }

    // One address spraying accounts: three failures, then it waits, even with the
    // right password of an account it has not tried.
    for i in 0..3 {
        let email = format!("sprayed{i}@acme.example");
        let (status, _, _) = sign_in_from(&app, local, &email, "guess").await;
        assert_eq!(status, 401, "{email}");
    }
    let (status, body, session) = sign_in_from(&app, local, "fresh@acme.example", PASSWORD).await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body.contains("Too many failed sign-ins from your network address. Wait a minute"),
        "{body}"
    );
    assert!(!session);
    // Another address is not held.
    let (status, body, session) =
        sign_in_from(&app, OTHER_LOOPBACK, "fresh@acme.example", PASSWORD).await;
    assert_eq!(status, 303, "{body}");
    assert!(session);

    // One account tried from two addresses: four attempts a minute in all, right
    // or wrong, whichever address they come from.
    for _ in 0..2 {
        let (status, _, _) = sign_in_from(&app, OTHER_LOOPBACK, "held@acme.example", "wrong").await;
        assert_eq!(status, 401);
    }
    for _ in 0..2 {
        let (status, _, _) =
            sign_in_from(&app, THIRD_LOOPBACK, "held@acme.example", PASSWORD).await;
        assert_eq!(status, 303);
    }
    let (status, body, session) =
        sign_in_from(&app, THIRD_LOOPBACK, "held@acme.example", PASSWORD).await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body.contains("Too many sign-in attempts for this account"),
        "{body}"
    );
    assert!(!session);
}

/// The Integrations page shows the connector in `status`.
fn assert_shows_status(page: &crate::console_support::Page, status: &str) {
    let marker = format!("data-status=\"{status}\"");
    assert!(page.body.contains(&marker), "{status}: {}", page.body);
}
