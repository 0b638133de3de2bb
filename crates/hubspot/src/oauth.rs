//! HubSpot OAuth v1: the authorize URL, code exchange, refresh, token info (which
//! tells the portal id, user and scopes a token belongs to), and refresh-token
//! revocation.
//!
//! Token calls are not CRM calls: they use no bearer token and no portal budget.
//! Redirects are not followed (SSRF hygiene for a URL that receives secrets).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::auth::TokenSet;
use crate::error::{HubspotError, Result};
use crate::models::{AccessTokenInfo, TokenGrant, TokenResponse};

/// HubSpot's production consent page.
pub const HUBSPOT_AUTHORIZE_URL: &str = "https://app.hubspot.com/oauth/authorize";

/// Refusals of the token endpoint that mean the grant itself is gone.
const GRANT_GONE: &[&str] = &[
    "BAD_REFRESH_TOKEN",
    "invalid_grant",
    "REFRESH_TOKEN_REVOKED",
];

/// The token endpoint (`POST /oauth/v1/token`) and token info, bound to a base URL.
#[derive(Clone, Debug)]
pub struct TokenEndpoint {
    http: reqwest::Client,
    base: Url,
}

impl TokenEndpoint {
    pub fn new(base: Url, timeout: Duration) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| HubspotError::InvalidRequest(format!("http client: {e}")))?;
        Ok(Self { http, base })
    }

    fn url(&self, segments: &[&str]) -> Result<Url> {
        crate::client::join_segments(&self.base, segments)
    }

    async fn token(&self, form: &[(&str, &str)], refreshing: bool) -> Result<TokenResponse> {
        let resp = self
            .http
            .post(self.url(&["oauth", "v1", "token"])?)
            .form(form)
            .send()
            .await?;
        let status = resp.status().as_u16();
        let correlation = crate::client::header_str(resp.headers(), "x-hubspot-correlation-id");
        let body = resp.bytes().await?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&body).map_err(HubspotError::decode);
        }
        let err = HubspotError::from_response(status, &body, None, correlation);
        if refreshing {
            if let Some(api) = err.api() {
                let code = api.error_code.as_deref().unwrap_or_default();
                if GRANT_GONE.contains(&code) || matches!(api.status, 401 | 403) {
                    return Err(HubspotError::NeedsReconnection {
                        reason: format!("{code}: {}", api.message),
                    });
                }
            }
        }
        Err(err)
    }

    /// `grant_type=refresh_token`.
    pub async fn refresh(
        &self,
        client_id: &str,
        client_secret: &SecretString,
        refresh_token: &SecretString,
    ) -> Result<TokenResponse> {
        self.token(
            &[
                ("grant_type", "refresh_token"),
                ("client_id", client_id),
                ("client_secret", client_secret.expose_secret()),
                ("refresh_token", refresh_token.expose_secret()),
            ],
            true,
        )
        .await
    }

    /// Sends a token-path request; a non-2xx answer becomes the parsed HubSpot error.
    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Vec<u8>> {
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let correlation = crate::client::header_str(resp.headers(), "x-hubspot-correlation-id");
        let body = resp.bytes().await?;
        if (200..300).contains(&status) {
            Ok(body.to_vec())
        } else {
            Err(HubspotError::from_response(
                status,
                &body,
                None,
                correlation,
            ))
        }
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, segments: &[&str]) -> Result<T> {
        let body = self.send(self.http.get(self.url(segments)?)).await?;
        serde_json::from_slice(&body).map_err(HubspotError::decode)
    }

    /// `GET /oauth/v1/access-tokens/{token}`: the portal (hub_id), user, app and
    /// scopes of a token.
    pub async fn access_token_info(&self, access_token: &SecretString) -> Result<AccessTokenInfo> {
        self.get_json(&["oauth", "v1", "access-tokens", access_token.expose_secret()])
            .await
    }

    /// `GET /oauth/v1/refresh-tokens/{token}`: the portal, user, client and scopes of
    /// a refresh token (404 once it is revoked).
    pub async fn refresh_token_info(
        &self,
        refresh_token: &SecretString,
    ) -> Result<RefreshTokenInfo> {
        self.get_json(&[
            "oauth",
            "v1",
            "refresh-tokens",
            refresh_token.expose_secret(),
        ])
        .await
    }

    /// `DELETE /oauth/v1/refresh-tokens/{token}` (204): later refreshes with it get
    /// `BAD_REFRESH_TOKEN`; access tokens already issued live until they expire.
    pub async fn revoke_refresh_token(&self, refresh_token: &SecretString) -> Result<()> {
        let url = self.url(&[
            "oauth",
            "v1",
            "refresh-tokens",
            refresh_token.expose_secret(),
        ])?;
        self.send(self.http.delete(url)).await.map(|_| ())
    }
}

/// `GET /oauth/v1/refresh-tokens/{token}` response (the token itself is not kept).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct RefreshTokenInfo {
    #[serde(flatten)]
    pub grant: TokenGrant,
    #[serde(default)]
    pub client_id: Option<String>,
}

/// A finished install: the tokens from the code exchange and who granted what,
/// from the access token's info.
#[derive(Debug, Clone)]
pub struct Installation {
    pub tokens: TokenSet,
    /// The portal the user chose.
    pub hub_id: u64,
    pub hub_domain: Option<String>,
    /// The installing user's email and id.
    pub user: Option<String>,
    pub user_id: Option<u64>,
    pub app_id: Option<u64>,
    /// The granted scopes: the required ones plus the optional ones the portal has.
    pub scopes: Vec<String>,
}

/// A HubSpot public app, for the install flow.
#[derive(Clone, Debug)]
pub struct OAuthApp {
    pub client_id: String,
    pub client_secret: SecretString,
    pub redirect_uri: String,
    /// The consent page (`https://app.hubspot.com/oauth/authorize`, or the sandbox's).
    pub authorize_url: Url,
    endpoint: TokenEndpoint,
}

impl OAuthApp {
    /// `api_base` is `https://api.hubapi.com` (or the sandbox URL); `authorize_url`
    /// the consent page.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: SecretString,
        redirect_uri: impl Into<String>,
        api_base: &str,
        authorize_url: &str,
    ) -> Result<Self> {
        let base = Url::parse(api_base)
            .map_err(|e| HubspotError::InvalidRequest(format!("api base URL: {e}")))?;
        let authorize_url = Url::parse(authorize_url)
            .map_err(|e| HubspotError::InvalidRequest(format!("authorize URL: {e}")))?;
        Ok(Self {
            client_id: client_id.into(),
            client_secret,
            redirect_uri: redirect_uri.into(),
            authorize_url,
            endpoint: TokenEndpoint::new(base, Duration::from_secs(30))?,
        })
    }

    /// The URL to send the installing user to. Scopes are space-separated in `scope`
    /// (and `optional_scope`); `state` comes back on the redirect (CSRF check).
    pub fn authorize_url(&self, scopes: &[&str], optional_scopes: &[&str], state: &str) -> Url {
        let mut url = self.authorize_url.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &self.client_id);
            q.append_pair("redirect_uri", &self.redirect_uri);
            q.append_pair("scope", &scopes.join(" "));
            if !optional_scopes.is_empty() {
                q.append_pair("optional_scope", &optional_scopes.join(" "));
            }
            q.append_pair("state", state);
        }
        url
    }

    /// `grant_type=authorization_code`: the code from the redirect → tokens.
    pub async fn exchange_code(&self, code: &str) -> Result<(TokenSet, TokenResponse)> {
        let resp = self
            .endpoint
            .token(
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", &self.client_id),
                    ("client_secret", self.client_secret.expose_secret()),
                    ("redirect_uri", &self.redirect_uri),
                    ("code", code),
                ],
                false,
            )
            .await?;
        Ok((TokenSet::from_response(&resp), resp))
    }

    /// Refreshes a token pair outside a client (a client refreshes by itself).
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenSet> {
        let resp = self
            .endpoint
            .refresh(&self.client_id, &self.client_secret, refresh_token)
            .await?;
        let mut set = TokenSet::from_response(&resp);
        if resp.refresh_token.expose_secret().is_empty() {
            set.refresh_token = refresh_token.clone();
        }
        Ok(set)
    }

    /// The portal id, user, app and scopes of an access token.
    pub async fn access_token_info(&self, access_token: &SecretString) -> Result<AccessTokenInfo> {
        self.endpoint.access_token_info(access_token).await
    }

    /// The portal id, user and scopes of a refresh token.
    pub async fn refresh_token_info(
        &self,
        refresh_token: &SecretString,
    ) -> Result<RefreshTokenInfo> {
        self.endpoint.refresh_token_info(refresh_token).await
    }

    /// Revokes a refresh token (disconnect): HubSpot refuses it from then on.
    pub async fn revoke_refresh_token(&self, refresh_token: &SecretString) -> Result<()> {
        self.endpoint.revoke_refresh_token(refresh_token).await
    }

    /// The callback's work: exchanges the code, then reads the portal, user, app
    /// and granted scopes from the new access token's info.
    pub async fn install(&self, code: &str) -> Result<Installation> {
        let (tokens, resp) = self.exchange_code(code).await?;
        let info = self.access_token_info(&tokens.access_token).await?;
        Ok(Installation {
            hub_id: resp.hub_id.unwrap_or(info.grant.hub_id),
            hub_domain: info.grant.hub_domain,
            user: info.grant.user,
            user_id: info.grant.user_id,
            app_id: info.app_id,
            scopes: resp.scopes.unwrap_or(info.grant.scopes),
            tokens,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn authorize_url_carries_scopes_space_separated_and_state() {
        let app = OAuthApp::new(
            "cid",
            SecretString::from("s".to_string()),
            "https://keva.example/oauth/callback",
            "https://api.hubapi.com",
            HUBSPOT_AUTHORIZE_URL,
        )
        .unwrap();
        let url = app.authorize_url(
            &["oauth", "crm.objects.contacts.read"],
            &["crm.objects.deals.read"],
            "st-1",
        );
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(url.host_str(), Some("app.hubspot.com"));
        assert!(pairs.contains(&("client_id".into(), "cid".into())));
        assert!(pairs.contains(&(
            "redirect_uri".into(),
            "https://keva.example/oauth/callback".into()
        )));
        assert!(pairs.contains(&("scope".into(), "oauth crm.objects.contacts.read".into())));
        assert!(pairs.contains(&("optional_scope".into(), "crm.objects.deals.read".into())));
        assert!(pairs.contains(&("state".into(), "st-1".into())));
        assert!(url
            .as_str()
            .contains("scope=oauth+crm.objects.contacts.read"));
    }
}
