//! What the console tests share: `Visitor`, a browser-like HTTP client that keeps
//! its cookies and does not follow redirects (each hop is checked), console users
//! made the way the CLI makes them, and reading a form's CSRF token from a page.

use std::collections::BTreeMap;

use keva_server::console::users::create_user;
use keva_store::UserRole;
use reqwest::header::{HeaderMap, COOKIE, SET_COOKIE};
use reqwest::Client;
use secrecy::SecretString;

use crate::harness::TestApp;

pub const PASSWORD: &str = "correct horse battery";

/// A page as the visitor got it.
pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The `Set-Cookie` header for `name`, if this response sets it.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_string)
    }

    /// The first CSRF token on the page.
    pub fn csrf(&self) -> String {
        csrf_in(&self.body)
    }
}

pub fn csrf_in(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no CSRF field in {html}"))
        .to_string()
}

/// One browser: its own cookie jar.
pub struct Visitor {
    http: Client,
    base: String,
    pub cookies: BTreeMap<String, String>,
}

impl Visitor {
    pub fn new(app: &TestApp) -> Self {
        Self {
            http: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: app.url.clone(),
            cookies: BTreeMap::new(),
        }
    }

    /// The `Cookie` header this visitor sends.
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn absorb(&mut self, resp: reqwest::Response) -> Page {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        for set in headers.get_all(SET_COOKIE).iter() {
            let set = set.to_str().unwrap();
            let (pair, attrs) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || attrs.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        let body = resp.text().await.unwrap();
        Page {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        self.absorb(resp).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        self.absorb(resp).await
    }

    /// Posts `form` to `path` with the CSRF token of the page at `from`.
    pub async fn submit(&mut self, from: &str, path: &str, form: &[(&str, &str)]) -> Page {
        let csrf = self.get(from).await.csrf();
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        self.post(path, &fields).await
    }

    /// Submits the sign-in form with a password; the answer, whatever it is.
    pub async fn try_sign_in(&mut self, workspace: &str, email: &str, password: &str) -> Page {
        self.submit(
            "/sign-in",
            "/sign-in",
            &[
                ("workspace", workspace),
                ("email", email),
                ("password", password),
            ],
        )
        .await
    }

    /// Signs in with a password; panics unless it works.
    pub async fn sign_in(&mut self, workspace: &str, email: &str, password: &str) {
        let page = self.try_sign_in(workspace, email, password).await;
        assert_eq!(page.status, 303, "sign in: {}", page.body);
        assert!(self.cookies.contains_key("keva_session"));
    }
}

/// A console user of the app's workspace with `PASSWORD`; their sign-in link.
pub async fn user(app: &TestApp, email: &str, role: UserRole) -> String {
    user_in(app, "acme", email, role).await
}

/// A console user of `workspace` (created if new) with `PASSWORD`.
pub async fn user_in(app: &TestApp, workspace: &str, email: &str, role: UserRole) -> String {
    create_user(
        &app.store,
        &app.url,
        workspace,
        email,
        role,
        Some(&SecretString::from(PASSWORD)),
        false,
    )
    .await
    .unwrap()
    .sign_in_link
}

/// A visitor signed in as a new user of the app's workspace.
pub async fn signed_in(app: &TestApp, email: &str, role: UserRole) -> Visitor {
    user(app, email, role).await;
    let mut v = Visitor::new(app);
    v.sign_in("acme", email, PASSWORD).await;
    v
}
