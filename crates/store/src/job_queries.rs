//! The job queue's operations (semantics in `jobs.rs`), written once and
//! instantiated for each backend like `queries.rs`. A backend provides `CLAIM_JOBS`:
//! the claiming UPDATE, which on PostgreSQL locks its candidates with
//! `FOR UPDATE SKIP LOCKED`.

/// The claiming statement, `$1` worker, `$2` lease end, `$3` now, `$4` limit.
/// Candidates are due queued jobs whose key has no running job with an unexpired
/// lease, oldest `run_at` first. `$open`/`$close` wrap the candidate query: on
/// PostgreSQL it must run exactly once (`= ANY(ARRAY(…))`, an init plan), since a
/// re-scanned `IN (… LIMIT n FOR UPDATE SKIP LOCKED)` skips the rows this very
/// statement just updated and hands out more than `n`.
macro_rules! claim_jobs_sql {
    ($open:literal, $close:literal) => {
        concat!(
            "UPDATE sync_jobs SET state = 'running', lease_owner = $1, lease_until = $2, \
             attempts = attempts + 1, updated_at = $3 \
             WHERE state = 'queued' AND id",
            $open,
            "SELECT q.id FROM sync_jobs q \
             WHERE q.state = 'queued' AND q.run_at <= $3 AND NOT EXISTS (SELECT 1 FROM sync_jobs r \
             WHERE r.connector_id = q.connector_id AND r.coalesce_key = q.coalesce_key \
             AND r.state = 'running' AND r.lease_until > $3) \
             ORDER BY q.run_at, q.id LIMIT $4",
            $close,
            " RETURNING ",
            $crate::sync_sql::job_cols!()
        )
    };
}

pub(crate) use claim_jobs_sql;

macro_rules! impl_job_queries {
    ($store:ty, $db:ty) => {
        impl $store {
            pub async fn enqueue(
                &self,
                job: &$crate::NewJob,
            ) -> Result<$crate::EnqueueResult, $crate::StoreError> {
                let mut conn = self.writer().acquire().await?;
                Self::enqueue_on(&mut conn, job).await
            }

            async fn enqueue_on(
                conn: &mut <$db as sqlx::Database>::Connection,
                job: &$crate::NewJob,
            ) -> Result<$crate::EnqueueResult, $crate::StoreError> {
                let id = uuid::Uuid::now_v7();
                let now = $crate::codec::now();
                let run_at = job.run_at.map($crate::codec::to_millis).unwrap_or(now);
                let got =
                    sqlx::query_scalar::<$db, $crate::codec::DbId>($crate::sync_sql::ENQUEUE_JOB)
                        .bind($crate::codec::DbId(id))
                        .bind($crate::codec::DbId(job.workspace_id))
                        .bind($crate::codec::DbId(job.connector_id))
                        .bind(job.kind.as_str())
                        .bind(job.coalesce_key.as_str())
                        .bind(sqlx::types::Json(&job.payload))
                        .bind(job.trigger.as_str())
                        .bind(i64::from(job.max_attempts.max(1)))
                        .bind($crate::codec::DbTime(run_at))
                        .bind($crate::codec::DbTime(now))
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(|e| $crate::error::conflict_or_db(e, String::new))?;
                Ok($crate::EnqueueResult {
                    job_id: got.0,
                    coalesced: got.0 != id,
                })
            }

            pub async fn claim(
                &self,
                worker_id: &str,
                lease: std::time::Duration,
                limit: u32,
            ) -> Result<Vec<$crate::Job>, $crate::StoreError> {
                let now = $crate::codec::now();
                let until = $crate::codec::plus(now, lease);
                let mut tx = self.begin_write().await?;
                let rows = sqlx::query_as::<$db, $crate::sync_rows::JobRow>(Self::CLAIM_JOBS)
                    .bind(worker_id)
                    .bind($crate::codec::DbTime(until))
                    .bind($crate::codec::DbTime(now))
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                let mut jobs = rows
                    .into_iter()
                    .map(|r| r.try_into().map_err($crate::StoreError::from))
                    .collect::<Result<Vec<$crate::Job>, _>>()?;
                // RETURNING has no order; hand jobs out oldest first.
                jobs.sort_by_key(|j| (j.run_at, j.id));
                Ok(jobs)
            }

            pub async fn heartbeat(
                &self,
                job_id: uuid::Uuid,
                worker_id: &str,
                lease: std::time::Duration,
            ) -> Result<bool, $crate::StoreError> {
                let now = $crate::codec::now();
                let done = sqlx::query::<$db>($crate::sync_sql::HEARTBEAT_JOB)
                    .bind($crate::codec::DbId(job_id))
                    .bind(worker_id)
                    .bind($crate::codec::DbTime($crate::codec::plus(now, lease)))
                    .bind($crate::codec::DbTime(now))
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn finish(
                &self,
                job_id: uuid::Uuid,
                worker_id: &str,
                state: keva_core::JobState,
                error: Option<&str>,
            ) -> Result<bool, $crate::StoreError> {
                if !state.is_terminal() {
                    return Err($crate::StoreError::Conflict(format!(
                        "a job cannot finish as {state}"
                    )));
                }
                let done = sqlx::query::<$db>($crate::sync_sql::FINISH_JOB)
                    .bind($crate::codec::DbId(job_id))
                    .bind(worker_id)
                    .bind(state.as_str())
                    .bind(error)
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn retry_later(
                &self,
                job_id: uuid::Uuid,
                worker_id: &str,
                run_at: chrono::DateTime<chrono::Utc>,
                error: Option<&str>,
            ) -> Result<bool, $crate::StoreError> {
                let now = $crate::codec::now();
                let requeued = sqlx::query::<$db>($crate::sync_sql::REQUEUE_OWNED_JOB)
                    .bind($crate::codec::DbId(job_id))
                    .bind(worker_id)
                    .bind($crate::codec::DbTime::from(run_at))
                    .bind(error)
                    .bind($crate::codec::DbTime(now))
                    .execute(self.writer())
                    .await;
                match requeued {
                    Ok(done) => Ok(done.rows_affected() == 1),
                    Err(e) if $crate::error::is_unique_violation(&e) => {
                        let Some(twin) = self.queued_twin(job_id, run_at).await? else {
                            return Ok(false);
                        };
                        let done = sqlx::query::<$db>($crate::sync_sql::FINISH_JOB)
                            .bind($crate::codec::DbId(job_id))
                            .bind(worker_id)
                            .bind(keva_core::JobState::Succeeded.as_str())
                            .bind(format!("coalesced into {twin}"))
                            .bind($crate::codec::DbTime($crate::codec::now()))
                            .execute(self.writer())
                            .await?;
                        Ok(done.rows_affected() == 1)
                    }
                    Err(e) => Err(e.into()),
                }
            }

            /// The queued job with the same key as `job_id`, whose `run_at` is
            /// pulled forward to `run_at` if that is earlier.
            async fn queued_twin(
                &self,
                job_id: uuid::Uuid,
                run_at: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<uuid::Uuid>, $crate::StoreError> {
                let twin =
                    sqlx::query_scalar::<$db, $crate::codec::DbId>($crate::sync_sql::QUEUED_TWIN)
                        .bind($crate::codec::DbId(job_id))
                        .fetch_optional(self.writer())
                        .await?;
                if let Some(twin) = twin {
                    sqlx::query::<$db>($crate::sync_sql::PULL_RUN_AT)
                        .bind(twin)
                        .bind($crate::codec::DbTime::from(run_at))
                        .bind($crate::codec::DbTime($crate::codec::now()))
                        .execute(self.writer())
                        .await?;
                }
                Ok(twin.map(|t| t.0))
            }

            pub async fn reap_expired_leases(&self) -> Result<u64, $crate::StoreError> {
                let now = $crate::codec::now();
                let expired = sqlx::query_as::<$db, $crate::sync_rows::ExpiredJobRow>(
                    $crate::sync_sql::EXPIRED_LEASES,
                )
                .bind($crate::codec::DbTime(now))
                .fetch_all(self.writer())
                .await?;
                let mut reaped = 0;
                for job in expired {
                    let done = if job.attempts >= job.max_attempts {
                        sqlx::query::<$db>($crate::sync_sql::KILL_EXPIRED_JOB)
                            .bind(job.id)
                            .bind(format!(
                                "lease expired on attempt {} of {}",
                                job.attempts, job.max_attempts
                            ))
                            .bind($crate::codec::DbTime(now))
                            .execute(self.writer())
                            .await?
                            .rows_affected()
                    } else {
                        let requeued = sqlx::query::<$db>($crate::sync_sql::REQUEUE_EXPIRED_JOB)
                            .bind(job.id)
                            .bind("lease expired")
                            .bind($crate::codec::DbTime(now))
                            .execute(self.writer())
                            .await;
                        match requeued {
                            Ok(done) => done.rows_affected(),
                            Err(e) if $crate::error::is_unique_violation(&e) => {
                                match self.queued_twin(job.id.0, now).await? {
                                    Some(twin) => {
                                        sqlx::query::<$db>($crate::sync_sql::COALESCE_RUNNING_JOB)
                                            .bind(job.id)
                                            .bind(format!("lease expired; coalesced into {twin}"))
                                            .bind($crate::codec::DbTime(now))
                                            .execute(self.writer())
                                            .await?
                                            .rows_affected()
                                    }
                                    None => 0,
                                }
                            }
                            Err(e) => return Err(e.into()),
                        }
                    };
                    reaped += done;
                }
                Ok(reaped)
            }

            pub async fn get_job(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::Job>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::sync_rows::JobRow>($crate::sync_sql::GET_JOB)
                    .bind($crate::codec::DbId(workspace_id))
                    .bind($crate::codec::DbId(id))
                    .fetch_optional(self.reader())
                    .await?
                    .map(|r| r.try_into().map_err($crate::StoreError::from))
                    .transpose()
            }

            pub async fn list_jobs(
                &self,
                workspace_id: uuid::Uuid,
                state: Option<keva_core::JobState>,
                limit: u32,
            ) -> Result<Vec<$crate::Job>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::sync_rows::JobRow>($crate::sync_sql::LIST_JOBS)
                    .bind($crate::codec::DbId(workspace_id))
                    .bind(state.map(|s| s.as_str()))
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?
                    .into_iter()
                    .map(|r| r.try_into().map_err($crate::StoreError::from))
                    .collect()
            }

            pub async fn count_jobs(
                &self,
                state: keva_core::JobState,
            ) -> Result<u64, $crate::StoreError> {
                let n: i64 = sqlx::query_scalar::<$db, i64>($crate::sync_sql::COUNT_JOBS)
                    .bind(state.as_str())
                    .fetch_one(self.reader())
                    .await?;
                Ok(u64::try_from(n).unwrap_or_default())
            }

            pub async fn retry_dead(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::Job>, $crate::StoreError> {
                sqlx::query_as::<$db, $crate::sync_rows::JobRow>($crate::sync_sql::RETRY_DEAD_JOB)
                    .bind($crate::codec::DbId(workspace_id))
                    .bind($crate::codec::DbId(id))
                    .bind($crate::codec::DbTime($crate::codec::now()))
                    .fetch_optional(self.writer())
                    .await
                    .map_err(|e| {
                        $crate::error::conflict_or_db(e, || {
                            "a job for the same key is already queued".into()
                        })
                    })?
                    .map(|r| r.try_into().map_err($crate::StoreError::from))
                    .transpose()
            }
        }
    };
}

pub(crate) use impl_job_queries;
