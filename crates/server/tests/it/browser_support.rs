//! Real Chromium for the console's browser tests: Debian's `chromium`, headless,
//! driven through `chromedriver` (Debian's `chromium-driver`) with WebDriver
//! (`fantoccini`). `Browser` starts one, acts as a user (go to, click a button or
//! a link by its text, type, wait for an element, read its text) and keeps a
//! screenshot of every step under `target/browser-screenshots/<test>/`; a failing
//! step saves `failure.png` and `failure.html` there before the test fails.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

fn chromium() -> String {
    std::env::var("KEVA_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

fn chromedriver() -> String {
    std::env::var("KEVA_TEST_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}

/// One headless Chromium with its chromedriver; screenshots go to `shots`.
pub struct Browser {
    pub client: Client,
    shots: PathBuf,
    step: u32,
    _driver: tokio::process::Child,
}

impl Browser {
    pub async fn start(test: &str) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = tokio::process::Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "starting {} (apt-get install chromium chromium-driver): {e}",
                    chromedriver()
                )
            });
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = http.get(format!("{url}/status")).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({
            "goog:chromeOptions": {
                "binary": chromium(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,900"],
            }
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!()
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await
            .expect("a Chromium session");
        let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../target/browser-screenshots")
            .join(test);
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).expect("screenshot folder");
        Browser {
            client,
            shots,
            step: 0,
            _driver: driver,
        }
    }

    /// Saves the page as `NN-name.png`.
    pub async fn shot(&mut self, name: &str) {
        self.step += 1;
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(self.shots.join(format!("{:02}-{name}.png", self.step)), png);
        }
    }

    /// Fails the test after saving the page as `failure.png` (and its HTML).
    pub async fn fail(&mut self, what: &str) -> ! {
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(self.shots.join("failure.png"), png);
        }
        let html = self.client.source().await.unwrap_or_default();
        let _ = std::fs::write(self.shots.join("failure.html"), &html);
        let url = self.client.current_url().await.map(|u| u.to_string());
        panic!(
            "{what} (at {url:?}; screenshot in {})",
            self.shots.display()
        );
    }

    pub async fn goto(&mut self, url: &str) {
        if let Err(e) = self.client.goto(url).await {
            self.fail(&format!("opening {url}: {e}")).await;
        }
    }

    /// Waits (10 s at most) for `css` to be on the page.
    pub async fn wait_for(&mut self, css: &str) -> fantoccini::elements::Element {
        let found = self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(e) => e,
            Err(e) => self.fail(&format!("waiting for {css}: {e}")).await,
        }
    }

    /// Clicks the button whose text is `text`.
    pub async fn click_button(&mut self, text: &str) {
        let xpath = format!("//button[normalize-space()='{text}']");
        let found = self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath(&xpath))
            .await;
        let clicked = match found {
            Ok(b) => b.click().await,
            Err(e) => Err(e),
        };
        if let Err(e) = clicked {
            self.fail(&format!("clicking the button {text:?}: {e}"))
                .await;
        }
    }

    pub async fn click_link(&mut self, text: &str) {
        let found = self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::LinkText(text))
            .await;
        let clicked = match found {
            Ok(a) => a.click().await,
            Err(e) => Err(e),
        };
        if let Err(e) = clicked {
            self.fail(&format!("clicking the link {text:?}: {e}")).await;
        }
    }

    /// Replaces the text of the input `css` with `text`.
    pub async fn type_into(&mut self, css: &str, text: &str) {
        let el = self.wait_for(css).await;
        let typed = match el.clear().await {
            Ok(()) => el.send_keys(text).await,
            Err(e) => Err(e),
        };
        if let Err(e) = typed {
            self.fail(&format!("typing into {css}: {e}")).await;
        }
    }

    pub async fn text_of(&mut self, css: &str) -> String {
        let el = self.wait_for(css).await;
        match el.text().await {
            Ok(t) => t,
            Err(e) => self.fail(&format!("reading {css}: {e}")).await,
        }
    }

    /// Waits (10 s at most) until `css` has some text and returns it: what a
    /// script writes after a promise settles (the clipboard's answer) is not
    /// there the moment the click returns.
    pub async fn wait_for_some_text(&mut self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = match self.client.find(Locator::Css(css)).await {
                Ok(el) => el.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if !text.is_empty() {
                return text;
            }
            if Instant::now() > deadline {
                self.fail(&format!("{css} stays empty")).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (10 s at most) until `css` reads `expected`: after a click the
    /// browser may still show the page the click left.
    pub async fn wait_for_text(&mut self, css: &str, expected: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = match self.client.find(Locator::Css(css)).await {
                Ok(el) => el.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if text == expected {
                return;
            }
            if Instant::now() > deadline {
                self.fail(&format!("{css} reads {text:?}, not {expected:?}"))
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Scrolls the element into view, so the next screenshot shows it.
    pub async fn scroll_to(&mut self, css: &str) {
        self.wait_for(css).await;
        let script = "document.querySelector(arguments[0]).scrollIntoView({block: 'center'})";
        if let Err(e) = self.client.execute(script, vec![css.into()]).await {
            self.fail(&format!("scrolling to {css}: {e}")).await;
        }
    }

    pub async fn check(&mut self, ok: bool, what: &str) {
        if !ok {
            self.fail(what).await;
        }
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
