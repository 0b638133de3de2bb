//! The store operations, written once and instantiated for each backend by
//! `impl_queries!`: with the shared SQL (`sql.rs`) and codecs (`codec.rs`) the
//! bodies are identical, and one copy cannot drift from the other.
//!
//! A backend type provides `reader()` and `writer()` pools, `begin_write()` (a
//! transaction that already holds the write lock on SQLite), a `key` field with the
//! `MasterKey`, and `CUSTOMER_FOR_UPDATE` (the row-locking read before an update).

macro_rules! impl_queries {
    ($store:ty, $db:ty) => {
        impl $store {
            // --- workspaces -----------------------------------------------

            pub async fn create_workspace(
                &self,
                name: &str,
            ) -> Result<$crate::Workspace, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::rows::WorkspaceRow>($crate::sql::INSERT_WORKSPACE)
                    .bind($crate::codec::DbId(uuid::Uuid::now_v7()))
                    .bind(name)
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .fetch_one(self.writer())
                    .await
                    .map(Into::into)
                    .map_err(|e| {
                        $crate::error::conflict_or_db(e, || {
                            format!("a workspace named {name:?} already exists")
                        })
                    })
            }

            pub async fn workspace_by_name(
                &self,
                name: &str,
            ) -> Result<Option<$crate::Workspace>, $crate::StoreError> {
                Ok(sqlx::query_as::<$db, $crate::rows::WorkspaceRow>(
                    $crate::sql::WORKSPACE_BY_NAME,
                )
                .bind(name)
                .fetch_optional(self.reader())
                .await?
                .map(Into::into))
            }

            pub async fn get_workspace(
                &self,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::Workspace>, $crate::StoreError> {
                Ok(
                    sqlx::query_as::<$db, $crate::rows::WorkspaceRow>($crate::sql::WORKSPACE_BY_ID)
                        .bind($crate::codec::DbId(id))
                        .fetch_optional(self.reader())
                        .await?
                        .map(Into::into),
                )
            }

            pub async fn ensure_workspace(
                &self,
                name: &str,
            ) -> Result<($crate::Workspace, bool), $crate::StoreError> {
                let inserted = sqlx::query_as::<$db, $crate::rows::WorkspaceRow>(
                    $crate::sql::INSERT_WORKSPACE_IF_ABSENT,
                )
                .bind($crate::codec::DbId(uuid::Uuid::now_v7()))
                .bind(name)
                .bind($crate::codec::DbTime($crate::codec::now()))
                .fetch_optional(self.writer())
                .await?;
                if let Some(row) = inserted {
                    return Ok((row.into(), true));
                }
                // Read through the writer: on SQLite it is the connection that just
                // saw the conflicting row, so the row is certainly visible there.
                let existing = sqlx::query_as::<$db, $crate::rows::WorkspaceRow>(
                    $crate::sql::WORKSPACE_BY_NAME,
                )
                .bind(name)
                .fetch_optional(self.writer())
                .await?
                .ok_or($crate::StoreError::NotFound)?;
                Ok((existing.into(), false))
            }

            // --- api keys -------------------------------------------------

            pub async fn insert_api_key(
                &self,
                workspace_id: uuid::Uuid,
                prefix: &str,
                hash: &[u8; 32],
            ) -> Result<$crate::ApiKey, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::rows::ApiKeyRow>($crate::sql::INSERT_API_KEY)
                    .bind($crate::codec::DbId(uuid::Uuid::now_v7()))
                    .bind($crate::codec::DbId(workspace_id))
                    .bind(hash.to_vec())
                    .bind(prefix)
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .fetch_one(self.writer())
                    .await
                    .map(Into::into)
                    .map_err(|e| {
                        $crate::error::conflict_or_db(e, || "this API key already exists".into())
                    })
            }

            pub async fn api_key_by_hash(
                &self,
                hash: &[u8; 32],
            ) -> Result<Option<$crate::ApiKey>, $crate::StoreError> {
                Ok(
                    sqlx::query_as::<$db, $crate::rows::ApiKeyRow>($crate::sql::API_KEY_BY_HASH)
                        .bind(hash.to_vec())
                        .fetch_optional(self.reader())
                        .await?
                        .map(Into::into),
                )
            }

            pub async fn touch_api_key(&self, id: uuid::Uuid) -> Result<(), $crate::StoreError> {
                let done = sqlx::query::<$db>($crate::sql::TOUCH_API_KEY)
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .bind($crate::codec::DbId(id))
                    .execute(self.writer())
                    .await?;
                found(done.rows_affected())
            }

            pub async fn revoke_api_key(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<(), $crate::StoreError> {
                let done = sqlx::query::<$db>($crate::sql::REVOKE_API_KEY)
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .bind($crate::codec::DbId(id))
                    .bind($crate::codec::DbId(workspace_id))
                    .execute(self.writer())
                    .await?;
                found(done.rows_affected())
            }

            pub async fn list_api_keys(
                &self,
                workspace_id: uuid::Uuid,
            ) -> Result<Vec<$crate::ApiKey>, $crate::StoreError> {
                Ok(
                    sqlx::query_as::<$db, $crate::rows::ApiKeyRow>($crate::sql::LIST_API_KEYS)
                        .bind($crate::codec::DbId(workspace_id))
                        .fetch_all(self.reader())
                        .await?
                        .into_iter()
                        .map(Into::into)
                        .collect(),
                )
            }

            // --- customers ------------------------------------------------

            pub async fn insert_customer(
                &self,
                workspace_id: uuid::Uuid,
                c: $crate::NewCustomer,
            ) -> Result<$crate::Customer, $crate::StoreError> {
                let (customer, times) = $crate::customers::new_customer(
                    uuid::Uuid::now_v7(),
                    workspace_id,
                    c,
                    $crate::codec::now(),
                );
                Self::bind_customer(
                    sqlx::query_as::<$db, $crate::rows::CustomerRow>($crate::sql::INSERT_CUSTOMER),
                    &customer,
                    times,
                )
                .fetch_one(self.writer())
                .await
                .map(Into::into)
                .map_err(|e| {
                    $crate::error::conflict_or_db(e, || {
                        format!("a customer with email {} already exists", customer.email)
                    })
                })
            }

            /// Binds the 13 columns of `INSERT_CUSTOMER`/`INSERT_CUSTOMER_IF_ABSENT`.
            fn bind_customer<'q>(
                q: sqlx::query::QueryAs<
                    'q,
                    $db,
                    $crate::rows::CustomerRow,
                    <$db as sqlx::Database>::Arguments,
                >,
                c: &$crate::Customer,
                times: $crate::rows::FieldTimes,
            ) -> sqlx::query::QueryAs<
                'q,
                $db,
                $crate::rows::CustomerRow,
                <$db as sqlx::Database>::Arguments,
            > {
                q.bind($crate::codec::DbId(c.id))
                    .bind($crate::codec::DbId(c.workspace_id))
                    .bind(c.email.clone())
                    .bind($crate::customers::normalize_email(&c.email))
                    .bind(c.name.clone())
                    .bind(c.phone.clone())
                    .bind(c.company.clone())
                    .bind(c.job_title.clone())
                    .bind(c.location.clone())
                    .bind(c.notes.clone())
                    .bind(sqlx::types::Json(times))
                    .bind($crate::codec::DbTime(c.created_at))
                    .bind($crate::codec::DbTime(c.updated_at))
            }

            pub async fn get_customer(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::Customer>, $crate::StoreError> {
                Ok(self.customer_row(workspace_id, id).await?.map(Into::into))
            }

            async fn customer_row(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::rows::CustomerRow>, $crate::StoreError> {
                Ok(
                    sqlx::query_as::<$db, $crate::rows::CustomerRow>($crate::sql::CUSTOMER_BY_ID)
                        .bind($crate::codec::DbId(workspace_id))
                        .bind($crate::codec::DbId(id))
                        .fetch_optional(self.reader())
                        .await?,
                )
            }

            pub async fn customer_by_email(
                &self,
                workspace_id: uuid::Uuid,
                email: &str,
            ) -> Result<Option<$crate::Customer>, $crate::StoreError> {
                Ok(
                    sqlx::query_as::<$db, $crate::rows::CustomerRow>(
                        $crate::sql::CUSTOMER_BY_EMAIL,
                    )
                    .bind($crate::codec::DbId(workspace_id))
                    .bind($crate::customers::normalize_email(email))
                    .fetch_optional(self.reader())
                    .await?
                    .map(Into::into),
                )
            }

            pub async fn update_customer(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
                patch: &keva_core::CustomerPatch,
            ) -> Result<Option<$crate::Customer>, $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                let Some(row) =
                    sqlx::query_as::<$db, $crate::rows::CustomerRow>(Self::CUSTOMER_FOR_UPDATE)
                        .bind($crate::codec::DbId(workspace_id))
                        .bind($crate::codec::DbId(id))
                        .fetch_optional(&mut *tx)
                        .await?
                else {
                    return Ok(None);
                };
                let (current, times) = row.into_parts();
                let Some((next, next_times)) =
                    $crate::customers::apply_patch(&current, &times, patch, $crate::codec::now())
                else {
                    return Ok(Some(current));
                };
                sqlx::query::<$db>($crate::sql::UPDATE_CUSTOMER)
                    .bind($crate::codec::DbId(workspace_id))
                    .bind($crate::codec::DbId(id))
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
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| {
                        $crate::error::conflict_or_db(e, || {
                            format!("a customer with email {} already exists", next.email)
                        })
                    })?;
                tx.commit().await?;
                Ok(Some(next))
            }

            pub async fn list_customers(
                &self,
                workspace_id: uuid::Uuid,
                after: Option<uuid::Uuid>,
                limit: u32,
            ) -> Result<Vec<$crate::Customer>, $crate::StoreError> {
                let query = match after {
                    None => sqlx::query_as::<$db, $crate::rows::CustomerRow>(
                        $crate::sql::LIST_CUSTOMERS_FIRST,
                    )
                    .bind($crate::codec::DbId(workspace_id)),
                    Some(after) => sqlx::query_as::<$db, $crate::rows::CustomerRow>(
                        $crate::sql::LIST_CUSTOMERS_AFTER,
                    )
                    .bind($crate::codec::DbId(workspace_id))
                    .bind($crate::codec::DbId(after)),
                };
                Ok(query
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?
                    .into_iter()
                    .map(Into::into)
                    .collect())
            }

            pub async fn count_customers(
                &self,
                workspace_id: uuid::Uuid,
            ) -> Result<u64, $crate::StoreError> {
                let n: i64 = sqlx::query_scalar::<$db, i64>($crate::sql::COUNT_CUSTOMERS)
                    .bind($crate::codec::DbId(workspace_id))
                    .fetch_one(self.reader())
                    .await?;
                // COUNT(*) is never negative.
                Ok(u64::try_from(n).unwrap_or_default())
            }

            pub async fn customer_field_times(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<
                std::collections::BTreeMap<keva_core::KevaField, chrono::DateTime<chrono::Utc>>,
                $crate::StoreError,
            > {
                let row = self
                    .customer_row(workspace_id, id)
                    .await?
                    .ok_or($crate::StoreError::NotFound)?;
                Ok($crate::customers::field_times_to_dates(
                    &row.field_updated_at.0,
                ))
            }

            // --- tickets --------------------------------------------------

            pub async fn create_ticket(
                &self,
                workspace_id: uuid::Uuid,
                email: &str,
                name: Option<&str>,
                subject: &str,
            ) -> Result<($crate::Ticket, $crate::Customer, bool), $crate::StoreError> {
                let normalized = $crate::customers::normalize_email(email);
                let mut tx = self.begin_write().await?;
                let existing = sqlx::query_as::<$db, $crate::rows::CustomerRow>(
                    $crate::sql::CUSTOMER_BY_EMAIL,
                )
                .bind($crate::codec::DbId(workspace_id))
                .bind(&normalized)
                .fetch_optional(&mut *tx)
                .await?;
                let (customer, created): ($crate::Customer, bool) = match existing {
                    Some(row) => (row.into(), false),
                    None => {
                        let now = $crate::codec::now();
                        let new = $crate::NewCustomer {
                            name: name.map(str::to_string),
                            ..$crate::NewCustomer::with_email(email)
                        };
                        let (customer, times) = $crate::customers::new_customer(
                            uuid::Uuid::now_v7(),
                            workspace_id,
                            new,
                            now,
                        );
                        let inserted = Self::bind_customer(
                            sqlx::query_as::<$db, $crate::rows::CustomerRow>(
                                $crate::sql::INSERT_CUSTOMER_IF_ABSENT,
                            ),
                            &customer,
                            times,
                        )
                        .fetch_optional(&mut *tx)
                        .await?;
                        match inserted {
                            Some(row) => (row.into(), true),
                            // Another transaction created it after our read and has
                            // committed (the insert waited for it): use that one.
                            None => (
                                sqlx::query_as::<$db, $crate::rows::CustomerRow>(
                                    $crate::sql::CUSTOMER_BY_EMAIL,
                                )
                                .bind($crate::codec::DbId(workspace_id))
                                .bind(&normalized)
                                .fetch_optional(&mut *tx)
                                .await?
                                .ok_or($crate::StoreError::NotFound)?
                                .into(),
                                false,
                            ),
                        }
                    }
                };
                let ticket: $crate::Ticket =
                    sqlx::query_as::<$db, $crate::rows::TicketRow>($crate::sql::INSERT_TICKET)
                        .bind($crate::codec::DbId(uuid::Uuid::now_v7()))
                        .bind($crate::codec::DbId(workspace_id))
                        .bind($crate::codec::DbId(customer.id))
                        .bind(subject)
                        .bind($crate::codec::DbTime($crate::codec::now()))
                        .fetch_one(&mut *tx)
                        .await?
                        .into();
                tx.commit().await?;
                Ok((ticket, customer, created))
            }

            // --- hubspot connectors ---------------------------------------

            pub async fn insert_connector(
                &self,
                c: $crate::NewConnector,
            ) -> Result<$crate::Connector, $crate::StoreError> {
                let id = uuid::Uuid::now_v7();
                let (access, refresh) = $crate::connectors::seal_tokens(
                    &self.key,
                    id,
                    &$crate::ConnectorTokens {
                        access_token: c.access_token.clone(),
                        refresh_token: c.refresh_token.clone(),
                        expires_at: c.token_expires_at,
                    },
                )?;
                let row = sqlx::query_as::<$db, $crate::rows::ConnectorRow>(
                    $crate::sql::INSERT_CONNECTOR,
                )
                .bind($crate::codec::DbId(id))
                .bind($crate::codec::DbId(c.workspace_id))
                .bind(c.portal_id)
                .bind(c.auth_kind.as_str())
                .bind(access)
                .bind(refresh)
                .bind(c.token_expires_at.map($crate::codec::DbTime::from))
                .bind(sqlx::types::Json(c.scopes.clone()))
                .bind($crate::codec::DbTime($crate::codec::now()))
                .fetch_one(self.writer())
                .await
                .map_err(|e| {
                    $crate::error::conflict_or_db(e, || {
                        format!(
                            "HubSpot portal {} is already connected to this workspace",
                            c.portal_id
                        )
                    })
                })?;
                Ok(row.try_into()?)
            }

            pub async fn get_connector(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::Connector>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::rows::ConnectorRow>($crate::sql::CONNECTOR_BY_ID)
                    .bind($crate::codec::DbId(workspace_id))
                    .bind($crate::codec::DbId(id))
                    .fetch_optional(self.reader())
                    .await?
                    .map(|r| r.try_into().map_err($crate::StoreError::from))
                    .transpose()
            }

            pub async fn list_connectors(
                &self,
                workspace_id: uuid::Uuid,
            ) -> Result<Vec<$crate::Connector>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::rows::ConnectorRow>($crate::sql::LIST_CONNECTORS)
                    .bind($crate::codec::DbId(workspace_id))
                    .fetch_all(self.reader())
                    .await?
                    .into_iter()
                    .map(|r| r.try_into().map_err($crate::StoreError::from))
                    .collect()
            }

            pub async fn connector_tokens(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<$crate::ConnectorTokens, $crate::StoreError> {
                let row =
                    sqlx::query_as::<$db, $crate::rows::TokenRow>($crate::sql::CONNECTOR_TOKENS)
                        .bind($crate::codec::DbId(workspace_id))
                        .bind($crate::codec::DbId(id))
                        .fetch_optional(self.reader())
                        .await?
                        .ok_or($crate::StoreError::NotFound)?;
                $crate::connectors::open_tokens(&self.key, row)
            }

            pub async fn update_connector_tokens(
                &self,
                id: uuid::Uuid,
                tokens: &$crate::ConnectorTokens,
            ) -> Result<(), $crate::StoreError> {
                let (access, refresh) = $crate::connectors::seal_tokens(&self.key, id, tokens)?;
                let done = sqlx::query::<$db>($crate::sql::UPDATE_CONNECTOR_TOKENS)
                    .bind($crate::codec::DbId(id))
                    .bind(access)
                    .bind(refresh)
                    .bind(tokens.expires_at.map($crate::codec::DbTime::from))
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .execute(self.writer())
                    .await?;
                found(done.rows_affected())
            }

            pub async fn set_connector_status(
                &self,
                id: uuid::Uuid,
                status: $crate::ConnectorStatus,
                reason: Option<&str>,
            ) -> Result<(), $crate::StoreError> {
                let done = sqlx::query::<$db>($crate::sql::SET_CONNECTOR_STATUS)
                    .bind($crate::codec::DbId(id))
                    .bind(status.as_str())
                    .bind(reason)
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .execute(self.writer())
                    .await?;
                found(done.rows_affected())
            }

            pub async fn touch_connector_sync(
                &self,
                id: uuid::Uuid,
            ) -> Result<(), $crate::StoreError> {
                let done = sqlx::query::<$db>($crate::sql::TOUCH_CONNECTOR_SYNC)
                    .bind($crate::codec::DbId(id))
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .execute(self.writer())
                    .await?;
                found(done.rows_affected())
            }

            pub async fn ping(&self) -> Result<(), $crate::StoreError> {
                sqlx::query::<$db>($crate::sql::PING)
                    .execute(self.reader())
                    .await?;
                Ok(())
            }
        }

        /// An UPDATE by id that touched no row means the id does not exist (there).
        fn found(rows_affected: u64) -> Result<(), $crate::StoreError> {
            if rows_affected == 0 {
                Err($crate::StoreError::NotFound)
            } else {
                Ok(())
            }
        }
    };
}

pub(crate) use impl_queries;
