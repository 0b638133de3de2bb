//! The sync engine's store operations (connector settings, webhook settings,
//! mappings, property cache, links, sync commits, history, webhook intake, batch
//! runs), written once and instantiated for each backend like `queries.rs`.
//!
//! Besides what `queries.rs` needs, a backend provides `BATCH_FOR_UPDATE` (the
//! locking read of a batch run), `CUSTOMERS_BY_IDS` and `LINKS_BY_HUBSPOT_IDS` (ids
//! passed as a JSON array, as neither backend shares the other's array syntax).

macro_rules! impl_sync_queries {
    ($store:ty, $db:ty) => {
        impl $store {
            // --- connector settings ---------------------------------------

            pub async fn update_connector_settings(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
                settings: &$crate::ConnectorSettings,
            ) -> Result<$crate::Connector, $crate::StoreError> {
                let row = sqlx::query_as::<$db, $crate::rows::ConnectorRow>(
                    $crate::sync_sql::UPDATE_CONNECTOR_SETTINGS,
                )
                .bind($crate::codec::DbId(workspace_id))
                .bind($crate::codec::DbId(id))
                .bind(settings.conflict_policy.as_str())
                .bind(settings.import_contacts)
                .bind(settings.batch_schedule.clone())
                .bind($crate::codec::DbTime($crate::codec::now()))
                .fetch_optional(self.writer())
                .await?
                .ok_or($crate::StoreError::NotFound)?;
                Ok(row.try_into()?)
            }

            pub async fn connectors_by_portal(
                &self,
                portal_id: i64,
            ) -> Result<Vec<$crate::Connector>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::rows::ConnectorRow>($crate::sql::CONNECTORS_BY_PORTAL)
                    .bind(portal_id)
                    .fetch_all(self.reader())
                    .await?
                    .into_iter()
                    .map(|r| r.try_into().map_err($crate::StoreError::from))
                    .collect()
            }

            pub async fn list_all_connectors(
                &self,
            ) -> Result<Vec<$crate::Connector>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::rows::ConnectorRow>($crate::sql::ALL_CONNECTORS)
                    .fetch_all(self.reader())
                    .await?
                    .into_iter()
                    .map(|r| r.try_into().map_err($crate::StoreError::from))
                    .collect()
            }

            // --- webhook settings -----------------------------------------

            pub async fn set_webhook_settings(
                &self,
                workspace_id: uuid::Uuid,
                app_id: &str,
                client_secret: &secrecy::SecretString,
            ) -> Result<$crate::WebhookSettings, $crate::StoreError> {
                let sealed = $crate::webhook_secret::seal_webhook_secret(
                    &self.key,
                    workspace_id,
                    client_secret,
                )?;
                sqlx::query_as::<$db, $crate::sync_rows::WebhookSettingsRow>(
                    $crate::sync_sql::UPSERT_WEBHOOK_SETTINGS,
                )
                .bind($crate::codec::DbId(workspace_id))
                .bind(app_id)
                .bind(sealed)
                .bind($crate::codec::DbTime($crate::codec::now()))
                .fetch_one(self.writer())
                .await
                .map(Into::into)
                .map_err(|e| $crate::error::conflict_or_db(e, String::new))
            }

            pub async fn webhook_settings(
                &self,
                workspace_id: uuid::Uuid,
            ) -> Result<Option<$crate::WebhookSettings>, $crate::StoreError> {
                Ok(
                    sqlx::query_as::<$db, $crate::sync_rows::WebhookSettingsRow>(
                        $crate::sync_sql::WEBHOOK_SETTINGS,
                    )
                    .bind($crate::codec::DbId(workspace_id))
                    .fetch_optional(self.reader())
                    .await?
                    .map(Into::into),
                )
            }

            pub async fn webhook_secret(
                &self,
                workspace_id: uuid::Uuid,
            ) -> Result<Option<secrecy::SecretString>, $crate::StoreError> {
                let sealed: Option<Vec<u8>> =
                    sqlx::query_scalar::<$db, Vec<u8>>($crate::sync_sql::WEBHOOK_SECRET)
                        .bind($crate::codec::DbId(workspace_id))
                        .fetch_optional(self.reader())
                        .await?;
                sealed
                    .map(|s| {
                        $crate::webhook_secret::open_webhook_secret(&self.key, workspace_id, &s)
                    })
                    .transpose()
            }

            // --- mappings and property cache ------------------------------

            pub async fn mappings(
                &self,
                connector_id: uuid::Uuid,
                object: keva_core::ObjectKind,
            ) -> Result<Option<$crate::StoredMappings>, $crate::StoreError> {
                Ok(sqlx::query_as::<$db, $crate::sync_rows::MappingsRow>(
                    $crate::sync_sql::MAPPINGS,
                )
                .bind($crate::codec::DbId(connector_id))
                .bind(object.as_str())
                .fetch_optional(self.reader())
                .await?
                .map(Into::into))
            }

            pub async fn save_mappings(
                &self,
                connector_id: uuid::Uuid,
                object: keva_core::ObjectKind,
                mappings: &[keva_core::FieldMapping],
                issues: &serde_json::Value,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query::<$db>($crate::sync_sql::SAVE_MAPPINGS)
                    .bind($crate::codec::DbId(connector_id))
                    .bind(object.as_str())
                    .bind(sqlx::types::Json(mappings))
                    .bind(sqlx::types::Json(issues))
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .execute(self.writer())
                    .await
                    .map_err(|e| $crate::error::conflict_or_db(e, String::new))?;
                Ok(())
            }

            pub async fn property_cache(
                &self,
                connector_id: uuid::Uuid,
                object: keva_core::ObjectKind,
            ) -> Result<Option<$crate::CachedProperties>, $crate::StoreError> {
                Ok(sqlx::query_as::<$db, $crate::sync_rows::PropertyCacheRow>(
                    $crate::sync_sql::PROPERTY_CACHE,
                )
                .bind($crate::codec::DbId(connector_id))
                .bind(object.as_str())
                .fetch_optional(self.reader())
                .await?
                .map(|r| (r.properties.0, r.fetched_at.0)))
            }

            pub async fn save_property_cache(
                &self,
                connector_id: uuid::Uuid,
                object: keva_core::ObjectKind,
                properties: &[keva_core::PropertyInfo],
            ) -> Result<(), $crate::StoreError> {
                sqlx::query::<$db>($crate::sync_sql::SAVE_PROPERTY_CACHE)
                    .bind($crate::codec::DbId(connector_id))
                    .bind(object.as_str())
                    .bind(sqlx::types::Json(properties))
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .execute(self.writer())
                    .await
                    .map_err(|e| $crate::error::conflict_or_db(e, String::new))?;
                Ok(())
            }

            // --- links ----------------------------------------------------

            pub async fn get_link(
                &self,
                connector_id: uuid::Uuid,
                customer_id: uuid::Uuid,
            ) -> Result<Option<$crate::CrmLink>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::sync_rows::LinkRow>($crate::sync_sql::GET_LINK)
                    .bind($crate::codec::DbId(connector_id))
                    .bind($crate::codec::DbId(customer_id))
                    .fetch_optional(self.reader())
                    .await?
                    .map(|r| r.try_into().map_err($crate::StoreError::from))
                    .transpose()
            }

            pub async fn link_by_hubspot_id(
                &self,
                connector_id: uuid::Uuid,
                hubspot_id: &str,
            ) -> Result<Option<$crate::CrmLink>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::sync_rows::LinkRow>(
                    $crate::sync_sql::LINK_BY_HUBSPOT_ID,
                )
                .bind($crate::codec::DbId(connector_id))
                .bind(hubspot_id)
                .fetch_optional(self.reader())
                .await?
                .map(|r| r.try_into().map_err($crate::StoreError::from))
                .transpose()
            }

            pub async fn links_by_hubspot_ids(
                &self,
                connector_id: uuid::Uuid,
                hubspot_ids: &[String],
            ) -> Result<Vec<$crate::CrmLink>, $crate::StoreError> {
                if hubspot_ids.is_empty() {
                    return Ok(Vec::new());
                }
                sqlx::query_as::<$db, $crate::sync_rows::LinkRow>(Self::LINKS_BY_HUBSPOT_IDS)
                    .bind($crate::codec::DbId(connector_id))
                    .bind(sqlx::types::Json(hubspot_ids))
                    .fetch_all(self.reader())
                    .await?
                    .into_iter()
                    .map(|r| r.try_into().map_err($crate::StoreError::from))
                    .collect()
            }

            pub async fn set_link_status(
                &self,
                connector_id: uuid::Uuid,
                customer_id: uuid::Uuid,
                status: keva_core::SyncStatus,
                reason: Option<&str>,
            ) -> Result<$crate::CrmLink, $crate::StoreError> {
                let row = sqlx::query_as::<$db, $crate::sync_rows::LinkRow>(
                    $crate::sync_sql::SET_LINK_STATUS,
                )
                .bind($crate::codec::DbId(connector_id))
                .bind($crate::codec::DbId(customer_id))
                .bind(status.as_str())
                .bind(reason)
                .bind($crate::codec::DbTime($crate::codec::now()))
                .fetch_optional(self.writer())
                .await?
                .ok_or($crate::StoreError::NotFound)?;
                Ok(row.try_into()?)
            }

            pub async fn unlink_hubspot(
                &self,
                connector_id: uuid::Uuid,
                hubspot_id: &str,
                status: keva_core::SyncStatus,
                reason: Option<&str>,
            ) -> Result<Option<$crate::CrmLink>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::sync_rows::LinkRow>($crate::sync_sql::UNLINK_HUBSPOT)
                    .bind($crate::codec::DbId(connector_id))
                    .bind(hubspot_id)
                    .bind(status.as_str())
                    .bind(reason)
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .fetch_optional(self.writer())
                    .await?
                    .map(|r| r.try_into().map_err($crate::StoreError::from))
                    .transpose()
            }

            pub async fn relink(
                &self,
                connector_id: uuid::Uuid,
                from_hubspot_id: &str,
                to_hubspot_id: &str,
            ) -> Result<Option<$crate::CrmLink>, $crate::StoreError> {
                let now = $crate::codec::now();
                let mut tx = self.begin_write().await?;
                let taken = sqlx::query_as::<$db, $crate::sync_rows::LinkRow>(
                    $crate::sync_sql::LINK_BY_HUBSPOT_ID,
                )
                .bind($crate::codec::DbId(connector_id))
                .bind(to_hubspot_id)
                .fetch_optional(&mut *tx)
                .await?;
                let row = match taken {
                    // Merged into a contact that another customer is linked to: the
                    // survivor keeps its customer, the merged one's customer is unlinked.
                    Some(_) if from_hubspot_id != to_hubspot_id => {
                        let reason = format!(
                            "HubSpot contact {from_hubspot_id} was merged into contact \
                             {to_hubspot_id}, which is linked to another customer"
                        );
                        sqlx::query_as::<$db, $crate::sync_rows::LinkRow>(
                            $crate::sync_sql::UNLINK_HUBSPOT,
                        )
                        .bind($crate::codec::DbId(connector_id))
                        .bind(from_hubspot_id)
                        .bind(keva_core::SyncStatus::NotLinked.as_str())
                        .bind(reason)
                        .bind($crate::codec::DbTime(now))
                        .fetch_optional(&mut *tx)
                        .await?
                    }
                    _ => sqlx::query_as::<$db, $crate::sync_rows::LinkRow>(
                        $crate::sync_sql::MOVE_LINK,
                    )
                    .bind($crate::codec::DbId(connector_id))
                    .bind(from_hubspot_id)
                    .bind(to_hubspot_id)
                    .bind($crate::codec::DbTime(now))
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| {
                        $crate::error::conflict_or_db(e, || {
                            format!("HubSpot contact {to_hubspot_id} is already linked")
                        })
                    })?,
                };
                tx.commit().await?;
                row.map(|r| r.try_into().map_err($crate::StoreError::from))
                    .transpose()
            }

            // --- sync commits ---------------------------------------------

            pub async fn commit_sync(
                &self,
                commit: &$crate::SyncCommit,
            ) -> Result<Option<$crate::Customer>, $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                let customer = Self::apply_commit(&mut tx, commit).await?;
                if customer.is_some() {
                    tx.commit().await?;
                }
                Ok(customer)
            }

            /// The customer patch, the link and the history row of one commit, on
            /// `conn` (a transaction or savepoint the caller commits). `None`, with
            /// nothing written, if the customer does not exist in the workspace.
            async fn apply_commit(
                conn: &mut <$db as sqlx::Database>::Connection,
                c: &$crate::SyncCommit,
            ) -> Result<Option<$crate::Customer>, $crate::StoreError> {
                let Some(row) =
                    sqlx::query_as::<$db, $crate::rows::CustomerRow>(Self::CUSTOMER_FOR_UPDATE)
                        .bind($crate::codec::DbId(c.workspace_id))
                        .bind($crate::codec::DbId(c.customer_id))
                        .fetch_optional(&mut *conn)
                        .await?
                else {
                    return Ok(None);
                };
                let (mut customer, times) = row.into_parts();
                let now = $crate::codec::now();
                let changed = c.customer_patch.as_ref().and_then(|patch| {
                    $crate::customers::apply_patch(&customer, &times, patch, now)
                });
                if let Some((next, next_times)) = changed {
                    sqlx::query::<$db>($crate::sql::UPDATE_CUSTOMER)
                        .bind($crate::codec::DbId(c.workspace_id))
                        .bind($crate::codec::DbId(c.customer_id))
                        .bind(next.email.clone())
                        .bind($crate::customers::normalize_email(&next.email))
                        .bind(next.name.clone())
                        .bind(next.phone.clone())
                        .bind(next.company.clone())
                        .bind(next.job_title.clone())
                        .bind(next.location.clone())
                        .bind(next.notes.clone())
                        .bind(sqlx::types::Json(next_times))
                        .bind($crate::codec::DbTime(next.updated_at))
                        .execute(&mut *conn)
                        .await
                        .map_err(|e| {
                            $crate::error::conflict_or_db(e, || {
                                format!("a customer with email {} already exists", next.email)
                            })
                        })?;
                    customer = next;
                }
                let hubspot_id = c.link.hubspot_id.as_deref();
                sqlx::query::<$db>($crate::sync_sql::UPSERT_LINK)
                    .bind($crate::codec::DbId(c.connector_id))
                    .bind($crate::codec::DbId(c.workspace_id))
                    .bind($crate::codec::DbId(c.customer_id))
                    .bind(hubspot_id)
                    .bind(c.link.bases.as_ref().map(sqlx::types::Json))
                    .bind(c.link.status.as_str())
                    .bind(c.link.status_reason.as_deref())
                    .bind(c.link.synced_at.map($crate::codec::DbTime::from))
                    .bind($crate::codec::DbTime(now))
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| {
                        $crate::error::conflict_or_db(e, || {
                            format!(
                                "HubSpot contact {} is already linked to another customer",
                                hubspot_id.unwrap_or_default()
                            )
                        })
                    })?;
                Self::insert_history_on(conn, &c.history).await?;
                Ok(Some(customer))
            }

            // --- history --------------------------------------------------

            pub async fn insert_history(
                &self,
                h: &$crate::NewHistory,
            ) -> Result<$crate::HistoryEntry, $crate::StoreError> {
                let mut conn = self.writer().acquire().await?;
                Self::insert_history_on(&mut conn, h).await
            }

            async fn insert_history_on(
                conn: &mut <$db as sqlx::Database>::Connection,
                h: &$crate::NewHistory,
            ) -> Result<$crate::HistoryEntry, $crate::StoreError> {
                let row = sqlx::query_as::<$db, $crate::sync_rows::HistoryRow>(
                    $crate::sync_sql::INSERT_HISTORY,
                )
                .bind($crate::codec::DbId(uuid::Uuid::now_v7()))
                .bind($crate::codec::DbId(h.workspace_id))
                .bind($crate::codec::DbId(h.connector_id))
                .bind(h.customer_id.map($crate::codec::DbId))
                .bind(h.hubspot_id.as_deref())
                .bind(h.trigger.as_str())
                .bind(h.direction.as_str())
                .bind(sqlx::types::Json(&h.fields))
                .bind(h.result.as_str())
                .bind(h.error.as_deref())
                .bind(h.correlation_id.as_deref())
                .bind($crate::codec::DbTime($crate::codec::now()))
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| $crate::error::conflict_or_db(e, String::new))?;
                Ok(row.try_into()?)
            }

            pub async fn customer_history(
                &self,
                workspace_id: uuid::Uuid,
                customer_id: uuid::Uuid,
                limit: u32,
            ) -> Result<Vec<$crate::HistoryEntry>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::sync_rows::HistoryRow>(
                    $crate::sync_sql::CUSTOMER_HISTORY,
                )
                .bind($crate::codec::DbId(workspace_id))
                .bind($crate::codec::DbId(customer_id))
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await?
                .into_iter()
                .map(|r| r.try_into().map_err($crate::StoreError::from))
                .collect()
            }

            pub async fn history(
                &self,
                workspace_id: uuid::Uuid,
                connector_id: uuid::Uuid,
                result: Option<$crate::HistoryResult>,
                before: Option<uuid::Uuid>,
                limit: u32,
            ) -> Result<Vec<$crate::HistoryEntry>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::sync_rows::HistoryRow>($crate::sync_sql::HISTORY_PAGE)
                    .bind($crate::codec::DbId(workspace_id))
                    .bind($crate::codec::DbId(connector_id))
                    .bind(result.map(|r| r.as_str()))
                    .bind(before.map($crate::codec::DbId))
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?
                    .into_iter()
                    .map(|r| r.try_into().map_err($crate::StoreError::from))
                    .collect()
            }

            // --- webhook intake -------------------------------------------

            pub async fn log_webhook_request(
                &self,
                r: &$crate::NewWebhookRequest,
            ) -> Result<$crate::WebhookRequest, $crate::StoreError> {
                let mut conn = self.writer().acquire().await?;
                Self::log_webhook_request_on(&mut conn, r, r.duplicates).await
            }

            async fn log_webhook_request_on(
                conn: &mut <$db as sqlx::Database>::Connection,
                r: &$crate::NewWebhookRequest,
                duplicates: u32,
            ) -> Result<$crate::WebhookRequest, $crate::StoreError> {
                Ok(sqlx::query_as::<$db, $crate::sync_rows::WebhookRequestRow>(
                    $crate::sync_sql::INSERT_WEBHOOK_REQUEST,
                )
                .bind($crate::codec::DbId(uuid::Uuid::now_v7()))
                .bind($crate::codec::DbTime($crate::codec::now()))
                .bind(r.workspace_id.map($crate::codec::DbId))
                .bind(r.portal_id)
                .bind(i64::from(r.event_count))
                .bind(r.valid)
                .bind(r.reject_reason.as_deref())
                .bind(i64::from(duplicates))
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| $crate::error::conflict_or_db(e, String::new))?
                .into())
            }

            pub async fn webhook_log(
                &self,
                workspace_id: uuid::Uuid,
                limit: u32,
                before: Option<uuid::Uuid>,
            ) -> Result<Vec<$crate::WebhookRequest>, $crate::StoreError> {
                Ok(sqlx::query_as::<$db, $crate::sync_rows::WebhookRequestRow>(
                    $crate::sync_sql::WEBHOOK_LOG,
                )
                .bind($crate::codec::DbId(workspace_id))
                .bind(before.map($crate::codec::DbId))
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await?
                .into_iter()
                .map(Into::into)
                .collect())
            }

            pub async fn ingest_webhook(
                &self,
                ingest: &$crate::WebhookIngest,
            ) -> Result<$crate::IngestResult, $crate::StoreError> {
                let now = $crate::codec::now();
                let mut tx = self.begin_write().await?;
                let mut result = $crate::IngestResult::default();
                for e in &ingest.events {
                    let done = sqlx::query::<$db>($crate::sync_sql::INSERT_WEBHOOK_EVENT)
                        .bind($crate::codec::DbId(uuid::Uuid::now_v7()))
                        .bind(e.event_id)
                        .bind(e.portal_id)
                        .bind(e.connector_id.map($crate::codec::DbId))
                        .bind(e.workspace_id.map($crate::codec::DbId))
                        .bind(e.object_id.as_str())
                        .bind(e.subscription_type.as_str())
                        .bind($crate::codec::DbTime::from(e.occurred_at))
                        .bind(sqlx::types::Json(&e.payload))
                        .bind($crate::codec::DbTime(now))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| $crate::error::conflict_or_db(e, String::new))?;
                    if done.rows_affected() == 0 {
                        result.duplicates += 1;
                    } else {
                        result.inserted += 1;
                    }
                }
                if result.inserted > 0 {
                    for job in &ingest.jobs {
                        if Self::enqueue_on(&mut tx, job).await?.coalesced {
                            result.jobs_coalesced += 1;
                        } else {
                            result.jobs_enqueued += 1;
                        }
                    }
                }
                let logged =
                    Self::log_webhook_request_on(&mut tx, &ingest.request, result.duplicates)
                        .await?;
                result.request_id = logged.id;
                tx.commit().await?;
                Ok(result)
            }

            pub async fn contact_events_since(
                &self,
                connector_id: uuid::Uuid,
                object_id: &str,
                after_occurred_at: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<$crate::WebhookEvent>, $crate::StoreError> {
                Ok(sqlx::query_as::<$db, $crate::sync_rows::WebhookEventRow>(
                    $crate::sync_sql::CONTACT_EVENTS_SINCE,
                )
                .bind($crate::codec::DbId(connector_id))
                .bind(object_id)
                .bind($crate::codec::DbTime::from(after_occurred_at))
                .fetch_all(self.reader())
                .await?
                .into_iter()
                .map(Into::into)
                .collect())
            }

            // --- portal leases -------------------------------------------

            pub async fn acquire_portal_lease(
                &self,
                portal_id: i64,
                owner: &str,
                lease: std::time::Duration,
            ) -> Result<bool, $crate::StoreError> {
                let now = $crate::codec::now();
                let done = sqlx::query::<$db>($crate::sync_sql::ACQUIRE_PORTAL_LEASE)
                    .bind(portal_id)
                    .bind(owner)
                    .bind($crate::codec::DbTime($crate::codec::plus(now, lease)))
                    .bind($crate::codec::DbTime(now))
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn release_portal_lease(
                &self,
                portal_id: i64,
                owner: &str,
            ) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query::<$db>($crate::sync_sql::RELEASE_PORTAL_LEASE)
                    .bind(portal_id)
                    .bind(owner)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            // --- batch runs -----------------------------------------------

            pub async fn start_batch(
                &self,
                workspace_id: uuid::Uuid,
                connector_id: uuid::Uuid,
                total: u64,
            ) -> Result<$crate::BatchRun, $crate::StoreError> {
                let counters = $crate::BatchCounters {
                    total,
                    ..$crate::BatchCounters::default()
                };
                let row = sqlx::query_as::<$db, $crate::sync_rows::BatchRow>(
                    $crate::sync_sql::INSERT_BATCH,
                )
                .bind($crate::codec::DbId(uuid::Uuid::now_v7()))
                .bind($crate::codec::DbId(workspace_id))
                .bind($crate::codec::DbId(connector_id))
                .bind(sqlx::types::Json(counters))
                .bind($crate::codec::DbTime($crate::codec::now()))
                .fetch_optional(self.writer())
                .await
                .map_err(|e| {
                    $crate::error::conflict_or_db(e, || {
                        "a batch sync is already running or paused for this connector".into()
                    })
                })?
                .ok_or($crate::StoreError::NotFound)?;
                Ok(row.try_into()?)
            }

            pub async fn get_batch(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::BatchRun>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::sync_rows::BatchRow>($crate::sync_sql::GET_BATCH)
                    .bind($crate::codec::DbId(workspace_id))
                    .bind($crate::codec::DbId(id))
                    .fetch_optional(self.reader())
                    .await?
                    .map(|r| r.try_into().map_err($crate::StoreError::from))
                    .transpose()
            }

            pub async fn active_batch(
                &self,
                connector_id: uuid::Uuid,
            ) -> Result<Option<$crate::BatchRun>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::sync_rows::BatchRow>($crate::sync_sql::ACTIVE_BATCH)
                    .bind($crate::codec::DbId(connector_id))
                    .fetch_optional(self.reader())
                    .await?
                    .map(|r| r.try_into().map_err($crate::StoreError::from))
                    .transpose()
            }

            pub async fn list_active_batches(
                &self,
            ) -> Result<Vec<$crate::BatchRun>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::sync_rows::BatchRow>(
                    $crate::sync_sql::ALL_ACTIVE_BATCHES,
                )
                .fetch_all(self.reader())
                .await?
                .into_iter()
                .map(|r| r.try_into().map_err($crate::StoreError::from))
                .collect()
            }

            pub async fn list_batches(
                &self,
                workspace_id: uuid::Uuid,
                connector_id: uuid::Uuid,
                limit: u32,
            ) -> Result<Vec<$crate::BatchRun>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::sync_rows::BatchRow>($crate::sync_sql::LIST_BATCHES)
                    .bind($crate::codec::DbId(workspace_id))
                    .bind($crate::codec::DbId(connector_id))
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?
                    .into_iter()
                    .map(|r| r.try_into().map_err($crate::StoreError::from))
                    .collect()
            }

            pub async fn set_batch_state(
                &self,
                id: uuid::Uuid,
                state: $crate::BatchState,
                reason: Option<&str>,
                resume_at: Option<chrono::DateTime<chrono::Utc>>,
            ) -> Result<$crate::BatchRun, $crate::StoreError> {
                let now = $crate::codec::now();
                let (pause_reason, error) = match state {
                    $crate::BatchState::Paused => (reason, None),
                    $crate::BatchState::Failed | $crate::BatchState::Cancelled => (None, reason),
                    $crate::BatchState::Running | $crate::BatchState::Done => (None, None),
                };
                let resume_at = resume_at.filter(|_| state == $crate::BatchState::Paused);
                let finished_at = (!state.is_active()).then_some($crate::codec::DbTime(now));
                let row = sqlx::query_as::<$db, $crate::sync_rows::BatchRow>(
                    $crate::sync_sql::SET_BATCH_STATE,
                )
                .bind($crate::codec::DbId(id))
                .bind(state.as_str())
                .bind(pause_reason)
                .bind(resume_at.map($crate::codec::DbTime::from))
                .bind(error)
                .bind($crate::codec::DbTime(now))
                .bind(finished_at)
                .fetch_optional(self.writer())
                .await?;
                match row {
                    Some(row) => Ok(row.try_into()?),
                    None => {
                        let exists = sqlx::query_as::<$db, $crate::sync_rows::BatchRow>(
                            $crate::sync_sql::BATCH_BY_ID,
                        )
                        .bind($crate::codec::DbId(id))
                        .fetch_optional(self.writer())
                        .await?;
                        Err(match exists {
                            Some(r) => $crate::StoreError::Conflict(format!(
                                "the batch sync has already ended ({})",
                                r.state
                            )),
                            None => $crate::StoreError::NotFound,
                        })
                    }
                }
            }

            pub async fn commit_batch_chunk(
                &self,
                chunk: &$crate::BatchChunk,
            ) -> Result<$crate::ChunkOutcome, $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                let run: $crate::BatchRun =
                    sqlx::query_as::<$db, $crate::sync_rows::BatchRow>(Self::BATCH_FOR_UPDATE)
                        .bind($crate::codec::DbId(chunk.run_id))
                        .fetch_optional(&mut *tx)
                        .await?
                        .ok_or($crate::StoreError::NotFound)?
                        .try_into()?;
                let mut failed = Vec::new();
                for commit in &chunk.commits {
                    let mut sp = sqlx::Acquire::begin(&mut tx).await?;
                    match Self::apply_commit(&mut sp, commit).await {
                        Ok(_) => sp.commit().await?,
                        Err($crate::StoreError::Conflict(reason)) => {
                            sp.rollback().await?;
                            Self::fail_commit(&mut tx, commit, &reason).await?;
                            failed.push((commit.customer_id, reason));
                        }
                        Err(e) => return Err(e),
                    }
                }
                let mut counters = run.counters;
                counters.add(&chunk.counters_delta);
                counters.failed = counters.failed.saturating_add(failed.len() as u64);
                let run = sqlx::query_as::<$db, $crate::sync_rows::BatchRow>(
                    $crate::sync_sql::SAVE_BATCH_PROGRESS,
                )
                .bind($crate::codec::DbId(chunk.run_id))
                .bind(sqlx::types::Json(counters))
                .bind(chunk.checkpoint.hyphenated().to_string())
                .bind($crate::codec::DbTime($crate::codec::now()))
                .fetch_one(&mut *tx)
                .await?
                .try_into()?;
                tx.commit().await?;
                Ok($crate::ChunkOutcome { run, failed })
            }

            /// Records a refused commit: the link keeps (or gets) the contact id so
            /// the contact is never created again, keeps its old bases, and shows
            /// the failure; the history row says why.
            async fn fail_commit(
                conn: &mut <$db as sqlx::Database>::Connection,
                c: &$crate::SyncCommit,
                reason: &str,
            ) -> Result<(), $crate::StoreError> {
                let now = $crate::codec::DbTime($crate::codec::now());
                let mut sp = sqlx::Connection::begin(&mut *conn).await?;
                let kept = sqlx::query::<$db>($crate::sync_sql::FAIL_LINK)
                    .bind($crate::codec::DbId(c.connector_id))
                    .bind($crate::codec::DbId(c.workspace_id))
                    .bind($crate::codec::DbId(c.customer_id))
                    .bind(c.link.hubspot_id.as_deref())
                    .bind(reason)
                    .bind(now)
                    .execute(&mut *sp)
                    .await;
                if kept.is_ok() {
                    sp.commit().await?;
                } else {
                    // The contact id itself was the clash: record the failure without it.
                    sp.rollback().await?;
                    sqlx::query::<$db>($crate::sync_sql::FAIL_LINK)
                        .bind($crate::codec::DbId(c.connector_id))
                        .bind($crate::codec::DbId(c.workspace_id))
                        .bind($crate::codec::DbId(c.customer_id))
                        .bind(None::<&str>)
                        .bind(reason)
                        .bind(now)
                        .execute(&mut *conn)
                        .await?;
                }
                let history = $crate::NewHistory {
                    result: $crate::HistoryResult::Failed,
                    error: Some(reason.to_string()),
                    ..c.history.clone()
                };
                Self::insert_history_on(conn, &history).await?;
                Ok(())
            }

            pub async fn customers_for_batch(
                &self,
                workspace_id: uuid::Uuid,
                connector_id: uuid::Uuid,
                after: Option<uuid::Uuid>,
                limit: u32,
            ) -> Result<Vec<$crate::CustomerForSync>, $crate::StoreError> {
                let query = match after {
                    None => sqlx::query_as::<$db, $crate::sync_rows::CustomerLinkRow>(
                        $crate::sync_sql::CUSTOMERS_FOR_BATCH_FIRST,
                    )
                    .bind($crate::codec::DbId(workspace_id))
                    .bind($crate::codec::DbId(connector_id)),
                    Some(after) => sqlx::query_as::<$db, $crate::sync_rows::CustomerLinkRow>(
                        $crate::sync_sql::CUSTOMERS_FOR_BATCH_AFTER,
                    )
                    .bind($crate::codec::DbId(workspace_id))
                    .bind($crate::codec::DbId(connector_id))
                    .bind($crate::codec::DbId(after)),
                };
                query
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?
                    .into_iter()
                    .map(|r| r.into_parts(connector_id).map_err($crate::StoreError::from))
                    .collect()
            }

            pub async fn customers_by_ids(
                &self,
                workspace_id: uuid::Uuid,
                ids: &[uuid::Uuid],
            ) -> Result<Vec<$crate::Customer>, $crate::StoreError> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let ids: Vec<String> = ids.iter().map(|id| id.hyphenated().to_string()).collect();
                Ok(
                    sqlx::query_as::<$db, $crate::rows::CustomerRow>(Self::CUSTOMERS_BY_IDS)
                        .bind($crate::codec::DbId(workspace_id))
                        .bind(sqlx::types::Json(ids))
                        .fetch_all(self.reader())
                        .await?
                        .into_iter()
                        .map(Into::into)
                        .collect(),
                )
            }
        }
    };
}

pub(crate) use impl_sync_queries;
