//! Which folders to list, and nothing more: Athena's "partition projection" applied to a
//! Firehose tree. From the query's filters on partition columns we derive what each folder
//! level may hold (a set of event types, a day range, a set of hours). A level whose values
//! are all known is not listed at all: its folder names are rendered directly (a one-week
//! query goes straight to seven day folders). Any other level is listed one folder at a
//! time with a delimiter, and children outside the allowed values are dropped before
//! going deeper. The bucket is never listed recursively.
//!
//! The exact filters are evaluated later, once, over every surviving leaf (`table.rs`); the
//! pruning here only has to be safe: never drop a folder the filters could accept.

use std::collections::{BTreeMap, BTreeSet};

use std::sync::atomic::Ordering;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator};
use futures::{StreamExt, TryStreamExt, stream};
use object_store::path::Path;
use object_store::{ListResult, ObjectMeta, ObjectStore};

use crate::error::Error;
use crate::source::Source;
use crate::table::layout::{Assignment, FirehoseLayout, Segment, TimePart, Var};

/// How many LIST requests may be in flight at once (S3 latency hides behind this).
const LIST_CONCURRENCY: usize = 32;
/// A bounded day range longer than this is walked by listing rather than enumerated.
const MAX_ENUMERATED_DAYS: i64 = 3700;

/// What the filters allow for each partition column, as far as listing can use it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Constraints {
    /// Allowed values of a key column (`event_type`, `sender_identity`, ...).
    pub keys: BTreeMap<String, BTreeSet<String>>,
    /// Inclusive bounds on `day` ('yyyy/MM/dd' strings, compared as strings).
    pub day_lo: Option<String>,
    pub day_hi: Option<String>,
    /// Allowed values of `hour` ('HH').
    pub hours: Option<BTreeSet<String>>,
}

/// The string a filter compares with, through casts.
pub fn literal_str(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Literal(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)),
            _,
        ) => Some(s.clone()),
        Expr::Cast(c) => literal_str(&c.expr),
        Expr::TryCast(c) => literal_str(&c.expr),
        _ => None,
    }
}

/// The column a filter compares, through casts.
pub fn column_name(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Column(c) => Some(c.name.as_str()),
        Expr::Cast(c) => column_name(&c.expr),
        Expr::TryCast(c) => column_name(&c.expr),
        _ => None,
    }
}

/// The finite set of values `expr` allows for `column`, when it pins one down.
fn value_set(expr: &Expr, column: &str) -> Option<BTreeSet<String>> {
    match expr {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => {
            let (c, v) = match (column_name(left), column_name(right)) {
                (Some(c), None) => (c, literal_str(right)?),
                (None, Some(c)) => (c, literal_str(left)?),
                _ => return None,
            };
            (c == column).then(|| BTreeSet::from([v]))
        }
        Expr::InList(list) if !list.negated && column_name(&list.expr) == Some(column) => list
            .list
            .iter()
            .map(literal_str)
            .collect::<Option<BTreeSet<_>>>(),
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => {
            let mut l = value_set(left, column)?;
            l.extend(value_set(right, column)?);
            Some(l)
        }
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::And,
            right,
        }) => match (value_set(left, column), value_set(right, column)) {
            (Some(l), Some(r)) => Some(l.intersection(&r).cloned().collect()),
            (Some(s), None) | (None, Some(s)) => Some(s),
            (None, None) => None,
        },
        _ => None,
    }
}

/// Inclusive (lo, hi) bounds `expr` puts on a string column; `None` = unbounded.
fn bounds(expr: &Expr, column: &str) -> (Option<String>, Option<String>) {
    let unbounded = (None, None);
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => {
                let (l1, h1) = bounds(left, column);
                let (l2, h2) = bounds(right, column);
                (
                    l1.into_iter().chain(l2).max(),
                    h1.into_iter().chain(h2).min(),
                )
            }
            Operator::Or => {
                let (l1, h1) = bounds(left, column);
                let (l2, h2) = bounds(right, column);
                let lo = l1.zip(l2).map(|(a, b)| a.min(b));
                let hi = h1.zip(h2).map(|(a, b)| a.max(b));
                (lo, hi)
            }
            Operator::Eq | Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq => {
                let (op, value) = match (column_name(left), column_name(right)) {
                    (Some(c), None) if c == column => (*op, literal_str(right)),
                    (None, Some(c)) if c == column => (op.swap().unwrap_or(*op), literal_str(left)),
                    _ => return unbounded,
                };
                let Some(v) = value else { return unbounded };
                match op {
                    Operator::Eq => (Some(v.clone()), Some(v)),
                    // Strict bounds are kept inclusive: listing only has to be safe.
                    Operator::Gt | Operator::GtEq => (Some(v), None),
                    _ => (None, Some(v)),
                }
            }
            _ => unbounded,
        },
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) if column_name(expr) == Some(column) => (literal_str(low), literal_str(high)),
        Expr::InList(list) if !list.negated && column_name(&list.expr) == Some(column) => {
            match list
                .list
                .iter()
                .map(literal_str)
                .collect::<Option<Vec<_>>>()
            {
                Some(values) => (values.iter().min().cloned(), values.iter().max().cloned()),
                None => unbounded,
            }
        }
        _ => unbounded,
    }
}

impl Constraints {
    /// From the filters DataFusion pushed down (each one only touches partition columns).
    pub fn from_filters(filters: &[Expr], layout: &FirehoseLayout) -> Self {
        let mut out = Constraints::default();
        for column in layout.partition_columns() {
            match column.as_str() {
                day if day == layout.day.name => {
                    for f in filters {
                        let (lo, hi) = bounds(f, day);
                        let (lo, hi) = (
                            lo.map(|v| layout.day.normalised(&v)),
                            hi.map(|v| layout.day.normalised(&v)),
                        );
                        if let Some(lo) = lo {
                            out.day_lo = Some(out.day_lo.map_or(lo.clone(), |cur| cur.max(lo)));
                        }
                        if let Some(hi) = hi {
                            out.day_hi = Some(out.day_hi.map_or(hi.clone(), |cur| cur.min(hi)));
                        }
                    }
                }
                "hour" => out.hours = intersect_sets(filters, "hour"),
                key => {
                    if let Some(set) = intersect_sets(filters, key) {
                        out.keys.insert(key.to_string(), set);
                    }
                }
            }
        }
        out
    }

    /// Every day in the range, when it is bounded, parseable and not too long.
    fn days(&self) -> Option<Vec<NaiveDate>> {
        let parse = |s: &Option<String>| NaiveDate::parse_from_str(s.as_deref()?, "%Y/%m/%d").ok();
        let (lo, hi) = (parse(&self.day_lo)?, parse(&self.day_hi)?);
        if hi < lo {
            return Some(Vec::new());
        }
        if (hi - lo).num_days() > MAX_ENUMERATED_DAYS {
            return None;
        }
        Some(
            (0..=(hi - lo).num_days())
                .map(|d| lo + Duration::days(d))
                .collect(),
        )
    }
}

fn intersect_sets(filters: &[Expr], column: &str) -> Option<BTreeSet<String>> {
    filters
        .iter()
        .filter_map(|f| value_set(f, column))
        .reduce(|a, b| a.intersection(&b).cloned().collect())
}

fn listing_error(source: &Source, prefix: &Path, e: &object_store::Error) -> DataFusionError {
    Error::List {
        folder: source.location.folder_name(prefix),
        why: source.describe_error(e),
    }
    .into()
}

/// When the time a folder's objects are named by ends: the end of its year, month, day or
/// hour, as far as its path (and its parents') pins it down; `None` for a folder not
/// bounded in time (an event type's), which can always gain objects.
pub(crate) fn closes_at(values: &Assignment) -> Option<DateTime<Utc>> {
    let part = |p| values.get(&Var::Time(p))?.parse::<u32>().ok();
    let year = i32::try_from(part(TimePart::Year)?).ok()?;
    let start = |y: i32, m: u32| NaiveDate::from_ymd_opt(y, m, 1);
    let end = match (part(TimePart::Month), part(TimePart::Day)) {
        (None, _) => start(year + 1, 1)?.and_hms_opt(0, 0, 0)?,
        (Some(12), None) => start(year + 1, 1)?.and_hms_opt(0, 0, 0)?,
        (Some(m), None) => start(year, m + 1)?.and_hms_opt(0, 0, 0)?,
        (Some(m), Some(d)) => {
            let day = NaiveDate::from_ymd_opt(year, m, d)?;
            match part(TimePart::Hour) {
                Some(h) => day.and_hms_opt(h, 0, 0)? + Duration::hours(1),
                None => day.succ_opt()?.and_hms_opt(0, 0, 0)?,
            }
        }
    };
    Some(end.and_utc())
}

/// One folder's listing (delimited): from the cache when the folder can no longer change
/// since it was cached, or when offline; else a LIST, cached for next time.
pub(crate) async fn list_folder(
    store: &dyn ObjectStore,
    source: &Source,
    leaf: &Leaf,
) -> Result<ListResult> {
    let prefix = &leaf.prefix;
    let cache = source.cache.as_deref().zip(source.bucket());
    if let Some((cache, bucket)) = cache
        && let Some(cached) = cache.get_listing(bucket, prefix)
    {
        let closes_at = closes_at(&leaf.values);
        let settled = cached.is_final(closes_at);
        if settled || source.offline {
            if !settled {
                source.notice(format!(
                    "offline: {} as listed at {} (it could still gain objects then)",
                    source.location.folder_name(prefix),
                    cached.fetched_at.format("%Y-%m-%d %H:%M UTC")
                ));
            }
            source
                .counters
                .cached_listings
                .fetch_add(1, Ordering::Relaxed);
            return Ok(cached.listing);
        }
    }
    if source.offline {
        return Err(Error::Offline {
            what: format!("the listing of {}", source.location.folder_name(prefix)),
        }
        .into());
    }
    let fetched_at = Utc::now();
    let listed = store
        .list_with_delimiter(Some(prefix))
        .await
        .map_err(|e| listing_error(source, prefix, &e))?;
    // A name left out of a listing is named by the scan of the run that listed it: a
    // listing kept from such a run would leave it out silently next time, so none is kept
    // while any name was left out (conservative: the names are not kept per folder).
    let left_out = !source
        .rejected
        .lock()
        .expect("rejected names lock")
        .is_empty();
    if let Some((cache, bucket)) = cache
        && !left_out
    {
        // A listing that cannot be kept is fetched again next time: slower, not wrong.
        let _ = cache.put_listing(bucket, prefix, &listed, fetched_at);
    }
    Ok(listed)
}

/// A folder reached by the walk, with the values its path assigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    pub prefix: Path,
    pub values: Assignment,
}

fn join(prefix: &Path, name: &str) -> Result<Path> {
    let joined = if prefix.as_ref().is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    };
    Path::parse(&joined).map_err(|e| DataFusionError::External(Box::new(e)))
}

fn time_values(date: NaiveDate) -> [(TimePart, String); 3] {
    [
        (TimePart::Year, date.format("%Y").to_string()),
        (TimePart::Month, date.format("%m").to_string()),
        (TimePart::Day, date.format("%d").to_string()),
    ]
}

/// The values a segment may take without listing, or `None` when it must be listed.
fn enumerate(
    seg: &Segment,
    assigned: &Assignment,
    c: &Constraints,
    days: &Option<Vec<NaiveDate>>,
) -> Option<Vec<Assignment>> {
    let mut out = vec![Assignment::new()];
    let vars: Vec<Var> = seg.vars().collect();
    let date_vars: Vec<TimePart> = vars
        .iter()
        .filter_map(|v| match v {
            Var::Time(p) if *p != TimePart::Hour => Some(*p),
            _ => None,
        })
        .collect();
    if !date_vars.is_empty() {
        let mut tuples: BTreeSet<Vec<(TimePart, String)>> = BTreeSet::new();
        for date in days.as_ref()? {
            let values = time_values(*date);
            let consistent = values
                .iter()
                .all(|(p, v)| match assigned.get(&Var::Time(*p)) {
                    Some(a) => a == v,
                    None => true,
                });
            if consistent {
                tuples.insert(
                    values
                        .into_iter()
                        .filter(|(p, _)| date_vars.contains(p))
                        .collect(),
                );
            }
        }
        out = tuples
            .into_iter()
            .map(|t| t.into_iter().map(|(p, v)| (Var::Time(p), v)).collect())
            .collect();
    }
    for var in vars {
        let allowed: &BTreeSet<String> = match &var {
            Var::Key(k) => c.keys.get(k)?,
            Var::Time(TimePart::Hour) => c.hours.as_ref()?,
            Var::Time(_) => continue,
        };
        out = out
            .into_iter()
            .flat_map(|a| {
                allowed
                    .iter()
                    .map(|v| {
                        let mut a = a.clone();
                        a.insert(var.clone(), v.clone());
                        a
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
    }
    Some(out)
}

/// Whether a listed folder's values can still satisfy the constraints.
fn allowed(values: &Assignment, c: &Constraints) -> bool {
    for (var, value) in values {
        let ok = match var {
            Var::Key(k) => c.keys.get(k).is_none_or(|s| s.contains(value)),
            Var::Time(TimePart::Hour) => c.hours.as_ref().is_none_or(|s| s.contains(value)),
            Var::Time(_) => true,
        };
        if !ok {
            return false;
        }
    }
    let Some(year) = values.get(&Var::Time(TimePart::Year)) else {
        return true;
    };
    let part = |p: TimePart, missing: &'static str| {
        values
            .get(&Var::Time(p))
            .map_or(missing.to_string(), |s| s.clone())
    };
    let min = format!(
        "{year}/{}/{}",
        part(TimePart::Month, "00"),
        part(TimePart::Day, "00")
    );
    let max = format!(
        "{year}/{}/{}",
        part(TimePart::Month, "99"),
        part(TimePart::Day, "99")
    );
    c.day_lo.as_ref().is_none_or(|lo| &max >= lo) && c.day_hi.as_ref().is_none_or(|hi| &min <= hi)
}

/// When the source holds nothing under the layout's first folder: what to say, naming the
/// folder that does hold it if one is near. A query whose filters name every folder it
/// reads never lists the first folder itself, so an empty answer asks this.
pub async fn misplaced(source: &Source, layout: &FirehoseLayout) -> Option<String> {
    let store = source.store.as_ref();
    let first = layout.segments.first().filter(|s| s.is_literal())?;
    let first = first.render(&Assignment::new())?;
    let folder = source.root.clone().join(first.as_str());
    let listed = store.list_with_delimiter(Some(&folder)).await.ok()?;
    if !listed.common_prefixes.is_empty() || !listed.objects.is_empty() {
        return None;
    }
    let shown = source.location.folder_name(&folder);
    Some(
        match one_level_off(store, source, &source.root, layout).await {
            Some(holder) => format!(
                "there are no objects under {shown}: --source is one level off; {holder} holds the \
             layout's first folder: try --source {}",
                holder.trim_end_matches('/')
            ),
            None => format!(
                "there are no objects under {shown}: check --source (the root that holds the \
             layout's first folder) and --layout (now `{}`)",
                layout.expression
            ),
        },
    )
}

/// Where the layout's first folder (`partitioned/`) is when it is not under `root`: the
/// source named that folder itself (its parent holds it), or a folder of the source holds
/// it (the source is one level up). Asked only when nothing was found, so its few LISTs
/// cost nothing in a working query.
async fn one_level_off(
    store: &dyn ObjectStore,
    source: &Source,
    root: &Path,
    layout: &FirehoseLayout,
) -> Option<String> {
    let first = layout.segments.first().filter(|s| s.is_literal())?;
    let first = first.render(&Assignment::new())?;
    // A local store is rooted at the source directory itself: its path says where it is.
    if let crate::source::Location::Local(dir) = &source.location
        && dir.file_name().is_some_and(|name| *name == *first)
    {
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.display().to_string(),
            _ => ".".into(),
        };
        return Some(format!("{}/", parent.trim_end_matches('/')));
    }
    let parts: Vec<_> = root.parts().collect();
    if let Some((last, parent)) = parts.split_last()
        && last.as_ref() == first
    {
        return Some(
            source
                .location
                .folder_name(&Path::from_iter(parent.iter().cloned())),
        );
    }
    let listed = store.list_with_delimiter(Some(root)).await.ok()?;
    for folder in listed.common_prefixes.iter().take(100) {
        let inner = store
            .list_with_delimiter(Some(&folder.clone().join(first.as_str())))
            .await
            .ok()?;
        if !inner.common_prefixes.is_empty() || !inner.objects.is_empty() {
            return Some(source.location.folder_name(folder));
        }
    }
    None
}

/// Walks the layout's folders under `root`, listing only what the constraints leave open.
pub async fn find_leaves(
    store: &dyn ObjectStore,
    root: &Path,
    layout: &FirehoseLayout,
    constraints: &Constraints,
    source: &Source,
) -> Result<Vec<Leaf>> {
    let days = constraints.days();
    let mut frontier = vec![Leaf {
        prefix: root.clone(),
        values: Assignment::new(),
    }];
    let first_level = layout.segments.iter().position(|s| !s.is_literal());
    for (level, seg) in layout.segments.iter().enumerate() {
        if seg.is_literal() {
            let name = seg
                .render(&Assignment::new())
                .expect("literal segment renders");
            frontier = frontier
                .into_iter()
                .map(|l| {
                    Ok(Leaf {
                        prefix: join(&l.prefix, &name)?,
                        values: l.values,
                    })
                })
                .collect::<Result<_>>()?;
            continue;
        }
        let next: Vec<Vec<Leaf>> = stream::iter(frontier.into_iter().map(|leaf| {
            let days = &days;
            async move {
                let children: Vec<Assignment> =
                    match enumerate(seg, &leaf.values, constraints, days) {
                        Some(candidates) => candidates,
                        None => {
                            let listed = list_folder(store, source, &leaf).await?;
                            if Some(level) == first_level
                                && listed.common_prefixes.is_empty()
                                && listed.objects.is_empty()
                            {
                                return Err(Error::NoObjects {
                                    folder: source.location.folder_name(&leaf.prefix),
                                    layout: layout.expression.clone(),
                                    holder: one_level_off(store, source, root, layout).await,
                                }
                                .into());
                            }
                            listed
                                .common_prefixes
                                .iter()
                                .filter_map(|p| p.filename().and_then(|name| seg.parse(name)))
                                .collect()
                        }
                    };
                let mut out = Vec::new();
                for child in children {
                    let mut values = leaf.values.clone();
                    values.extend(child);
                    if !allowed(&values, constraints) {
                        continue;
                    }
                    let name = seg
                        .render(&values)
                        .expect("all segment variables are assigned");
                    out.push(Leaf {
                        prefix: join(&leaf.prefix, &name)?,
                        values,
                    });
                }
                Ok::<_, DataFusionError>(out)
            }
        }))
        .buffer_unordered(LIST_CONCURRENCY)
        .try_collect()
        .await?;
        frontier = next.into_iter().flatten().collect();
        frontier.sort_by(|a, b| a.prefix.cmp(&b.prefix));
    }
    Ok(frontier)
}

/// The objects directly inside each leaf folder (one delimited LIST per leaf), folder by
/// folder in path order, each folder's objects in key order.
pub async fn list_folders(
    store: &dyn ObjectStore,
    leaves: Vec<Leaf>,
    source: &Source,
) -> Result<Vec<(Leaf, Vec<ObjectMeta>)>> {
    let mut listed: Vec<(Leaf, Vec<ObjectMeta>)> =
        stream::iter(leaves.into_iter().map(|leaf| async move {
            let mut objects = list_folder(store, source, &leaf).await?.objects;
            objects.sort_by(|a, b| a.location.cmp(&b.location));
            Ok::<_, DataFusionError>((leaf, objects))
        }))
        .buffer_unordered(LIST_CONCURRENCY)
        .try_collect()
        .await?;
    listed.sort_by(|a, b| a.0.prefix.cmp(&b.0.prefix));
    Ok(listed)
}

/// The objects directly inside each leaf folder, with the values their folder assigned, in
/// key order.
pub async fn list_objects(
    store: &dyn ObjectStore,
    leaves: Vec<Leaf>,
    source: &Source,
) -> Result<Vec<(ObjectMeta, Assignment)>> {
    let mut all: Vec<(ObjectMeta, Assignment)> = list_folders(store, leaves, source)
        .await?
        .into_iter()
        .flat_map(|(leaf, objects)| objects.into_iter().map(move |o| (o, leaf.values.clone())))
        .collect();
    all.sort_by(|a, b| a.0.location.cmp(&b.0.location));
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::layout::DEFAULT_LAYOUT;
    use datafusion::prelude::{col, lit};

    fn constraints(filters: &[Expr]) -> Constraints {
        Constraints::from_filters(filters, &FirehoseLayout::parse(DEFAULT_LAYOUT).unwrap())
    }

    #[test]
    fn equality_in_and_between_pin_down_values() {
        let c = constraints(&[
            col("event_type")
                .eq(lit("Bounce"))
                .or(col("event_type").eq(lit("Complaint"))),
            col("day").between(lit("2024/11/01"), lit("2024/11/30")),
        ]);
        assert_eq!(
            c.keys["event_type"],
            BTreeSet::from(["Bounce".into(), "Complaint".into()])
        );
        assert_eq!(c.day_lo.as_deref(), Some("2024/11/01"));
        assert_eq!(c.day_hi.as_deref(), Some("2024/11/30"));
        assert_eq!(c.days().unwrap().len(), 30);
    }

    #[test]
    fn a_dt_column_bounds_the_days_in_its_own_form() {
        let layout = crate::table::errorlog::default_layout();
        let c = Constraints::from_filters(
            &[
                col("dt").between(lit("2024-11-05"), lit("2024-11-07")),
                col("error_output_type").eq(lit("processing-failed")),
            ],
            &layout,
        );
        assert_eq!(c.day_lo.as_deref(), Some("2024/11/05"));
        assert_eq!(c.day_hi.as_deref(), Some("2024/11/07"));
        assert_eq!(c.days().unwrap().len(), 3);
        assert_eq!(
            c.keys["error_output_type"],
            BTreeSet::from(["processing-failed".into()])
        );
    }

    #[test]
    fn unbounded_or_opaque_filters_constrain_nothing() {
        let c = constraints(&[col("day")
            .gt_eq(lit("2024/11/01"))
            .or(col("event_type").eq(lit("x")))]);
        assert_eq!(c, Constraints::default());
        let c = constraints(&[col("day").gt_eq(lit("2024/11/01"))]);
        assert_eq!(c.days(), None);
    }

    #[test]
    fn a_folder_closes_when_its_year_month_day_or_hour_ends() {
        let at = |parts: &[(TimePart, &str)]| {
            let values: Assignment = parts
                .iter()
                .map(|(p, v)| (Var::Time(*p), v.to_string()))
                .collect();
            closes_at(&values).map(|t| t.to_rfc3339())
        };
        use TimePart::*;
        let t = |s: &str| Some(s.to_string());
        assert_eq!(at(&[(Year, "2024")]), t("2025-01-01T00:00:00+00:00"));
        assert_eq!(
            at(&[(Year, "2024"), (Month, "12")]),
            t("2025-01-01T00:00:00+00:00")
        );
        assert_eq!(
            at(&[(Year, "2024"), (Month, "02")]),
            t("2024-03-01T00:00:00+00:00")
        );
        assert_eq!(
            at(&[(Year, "2024"), (Month, "02"), (Day, "29")]),
            t("2024-03-01T00:00:00+00:00")
        );
        assert_eq!(
            at(&[(Year, "2024"), (Month, "11"), (Day, "05"), (Hour, "23")]),
            t("2024-11-06T00:00:00+00:00")
        );
        assert_eq!(at(&[]), None);
        assert_eq!(at(&[(Year, "2024"), (Month, "13")]), None);
        let mut key = Assignment::new();
        key.insert(Var::Key("EventType".into()), "Bounce".into());
        assert_eq!(closes_at(&key), None);
    }

    #[test]
    fn partial_dates_prune_by_range() {
        let c = Constraints {
            day_lo: Some("2024/11/01".into()),
            day_hi: Some("2024/11/30".into()),
            ..Default::default()
        };
        let year = |y: &str| Assignment::from([(Var::Time(TimePart::Year), y.to_string())]);
        assert!(allowed(&year("2024"), &c));
        assert!(!allowed(&year("2023"), &c));
        let mut m = year("2024");
        m.insert(Var::Time(TimePart::Month), "10".into());
        assert!(!allowed(&m, &c));
    }
}
