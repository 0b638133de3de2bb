//! The person on the sandbox's OAuth consent page, as a program: opens the
//! authorize URL, chooses a portal and clicks *Approve* or *Deny*, and returns
//! where the page redirects the browser. Tests and the quickstart's checks use it
//! to finish an OAuth flow without a browser.
//!
//! The page is the sandbox's own (control/oauth.rs), so this module reads exactly
//! the markup that module writes: hidden inputs escaped with the five HTML
//! entities. A general HTML parser would be a dependency for one known form.

use reqwest::redirect::Policy;
use reqwest::StatusCode;

/// The hidden fields of the consent form, unescaped, as a browser submits them.
pub fn form_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" ")
        .skip(1)
        .filter_map(|rest| {
            let name = rest.strip_prefix("name=\"")?.split('"').next()?;
            let value = rest.split("value=\"").nth(1)?.split('"').next()?;
            Some((name.to_string(), unescape(value)))
        })
        .collect()
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Opens `authorize_url`, chooses `portal` and clicks `decision` (`approve` or
/// `deny`). Returns the redirect's `Location` (the app's callback with a code or
/// an error, and the state), or what went wrong, in words.
pub async fn decide(authorize_url: &str, portal: u64, decision: &str) -> Result<String, String> {
    // A browser would follow the redirect; the caller wants to see it.
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let page = http
        .get(authorize_url)
        .send()
        .await
        .map_err(|e| format!("opening the consent page: {e}"))?;
    let status = page.status();
    let html = page.text().await.map_err(|e| e.to_string())?;
    if status != StatusCode::OK {
        return Err(format!("the consent page answered {status}: {html}"));
    }
    if !html.contains(&format!("<option value=\"{portal}\"")) {
        return Err(format!("portal {portal} is not offered: {html}"));
    }
    let url = url::Url::parse(authorize_url).map_err(|e| e.to_string())?;
    let action = url
        .join(&format!("/oauth/authorize/{decision}"))
        .map_err(|e| e.to_string())?;
    let mut form = form_fields(&html);
    form.push(("portal_id".into(), portal.to_string()));
    form.push(("decision".into(), decision.into()));
    let resp = http
        .post(action)
        .form(&form)
        .send()
        .await
        .map_err(|e| format!("submitting the consent form: {e}"))?;
    if !resp.status().is_redirection() {
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        return Err(format!("the consent form answered {status}: {body}"));
    }
    resp.headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| "the redirect has no Location".to_string())
}
