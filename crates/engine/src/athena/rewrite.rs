//! The rewrite of a parsed statement from Athena's SQL to what DataFusion plans: what
//! DataFusion has under another name is renamed, what it can express another way is
//! rewritten, and what cannot be supported fails with a message that names the construct and
//! shows the seslog SQL that does the same. Functions that need code of their own
//! (`date_parse`, `json_extract_scalar`, ...) are UDFs in `functions`/`datetime`, not here.

use std::collections::HashSet;
use std::ops::ControlFlow;

use datafusion::error::{DataFusionError, Result};
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    AccessExpr, BinaryOperator, CastKind, Expr, Function, FunctionArg, FunctionArgExpr,
    FunctionArguments, Ident, JoinConstraint, JoinOperator, LambdaFunction, OneOrManyWithParens,
    Query, Select, SelectItem, SetExpr, Statement, Subscript, TableFactor, TableWithJoins, Value,
    VisitMut, VisitorMut, visit_expressions_mut,
};
use datafusion::sql::sqlparser::parser::Parser;

use super::dialect::{AthenaDialect, LENIENT};

/// Trino functions seslog does not have, with what to write instead.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "reduce",
        "for sums and counts over an array use array_sum(transform(arr, x -> ...)) or cardinality(filter(arr, x -> ...))",
    ),
    (
        "zip_with",
        "CROSS JOIN UNNEST(a, b) AS t(x, y) pairs the elements of two arrays",
    ),
    (
        "map_filter",
        "CROSS JOIN UNNEST(map_keys(m), map_values(m)) AS t(k, v) WHERE ... gives the entries as rows",
    ),
    (
        "transform_values",
        "CROSS JOIN UNNEST(map_keys(m), map_values(m)) AS t(k, v) gives the entries as rows",
    ),
    (
        "transform_keys",
        "CROSS JOIN UNNEST(map_keys(m), map_values(m)) AS t(k, v) gives the entries as rows",
    ),
    (
        "histogram",
        "SELECT x, count(*) FROM ... GROUP BY x gives the same counts as rows",
    ),
    (
        "map_agg",
        "SELECT k, v ... GROUP BY k, or array_agg(k) and array_agg(v)",
    ),
    ("multimap_agg", "SELECT k, array_agg(v) FROM ... GROUP BY k"),
    ("approx_set", "approx_distinct(x)"),
    (
        "format_datetime",
        "date_format(ts, '%Y-%m-%d %H:%i:%s') (MySQL-style specifiers, as in Athena)",
    ),
    ("parse_datetime", "date_parse(s, '%Y-%m-%d %H:%i:%s')"),
    (
        "json_parse",
        "json_extract(s, '$') or json_extract_scalar(s, '$.path') on the JSON text",
    ),
    (
        "json_format",
        "the JSON text itself (seslog keeps JSON as text)",
    ),
];

/// Rewrites one parsed statement from Athena's SQL to what DataFusion plans.
pub fn translate(statement: &mut DFStatement) -> Result<()> {
    match statement {
        DFStatement::Statement(s) => translate_sql(s),
        DFStatement::Explain(explain) => translate(&mut explain.statement),
        _ => Ok(()),
    }
}

fn translate_sql(statement: &mut Statement) -> Result<()> {
    if matches!(statement, Statement::ShowTables { .. }) {
        *statement = Parser::parse_sql(&AthenaDialect, super::describe::SHOW_TABLES)?.remove(0);
    }
    if let Statement::Query(query) = statement {
        name_columns(query);
    }
    match statement.visit(&mut Rewriter) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// Athena names a result column that is not a plain column reference `_col<position>`
/// (`SELECT count(*)` gives `_col0`); scripts moved from Athena read those names.
fn name_columns(query: &mut Query) {
    let mut body = query.body.as_mut();
    // A set operation takes its column names from its first SELECT.
    while let SetExpr::SetOperation { left, .. } = body {
        body = left.as_mut();
    }
    let SetExpr::Select(select) = body else {
        return;
    };
    for (i, item) in select.projection.iter_mut().enumerate() {
        if let SelectItem::UnnamedExpr(expr) = item
            && !matches!(expr, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
        {
            *item = SelectItem::ExprWithAlias {
                expr: expr.clone(),
                alias: Ident::new(format!("_col{i}")),
            };
        }
    }
}

struct Rewriter;

impl VisitorMut for Rewriter {
    type Break = DataFusionError;

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<DataFusionError> {
        match unnest_joins(select) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => ControlFlow::Break(e),
        }
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<DataFusionError> {
        match rewrite_expr(expr) {
            Ok(Some(new)) => {
                *expr = new;
                ControlFlow::Continue(())
            }
            Ok(None) => ControlFlow::Continue(()),
            Err(e) => ControlFlow::Break(e),
        }
    }
}

fn unsupported(what: &str, instead: &str) -> DataFusionError {
    DataFusionError::Plan(format!(
        "{what} is Trino SQL that seslog does not support; instead: {instead}"
    ))
}

fn parse_expr(sql: &str) -> Result<Expr> {
    Ok(Parser::new(&AthenaDialect)
        .try_with_sql(sql)?
        .parse_expr()?)
}

fn parse_table_factor(sql: &str) -> Result<TableFactor> {
    Ok(Parser::new(&AthenaDialect)
        .try_with_sql(sql)?
        .parse_table_factor()?)
}

/// The arguments of a plain call `f(a, b)` as SQL text; None for anything fancier
/// (`DISTINCT`, `ORDER BY` inside, named arguments, `FILTER`, `OVER`), which the text
/// rewrites would otherwise drop.
fn plain_args(f: &Function) -> Option<Vec<String>> {
    if f.over.is_some() || f.filter.is_some() || f.null_treatment.is_some() {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else {
        return match f.args {
            FunctionArguments::None => Some(vec![]),
            _ => None,
        };
    };
    if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
        return None;
    }
    list.args
        .iter()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.to_string()),
            _ => None,
        })
        .collect()
}

/// Trino's date-part functions (`hour(ts)`, ...), which `rewrite_expr` turns into
/// `date_part`.
const DATE_PARTS: &[&str] = &[
    "year",
    "quarter",
    "month",
    "week",
    "day",
    "day_of_month",
    "day_of_week",
    "dow",
    "day_of_year",
    "doy",
    "hour",
    "minute",
    "second",
    "millisecond",
];

/// The other functions `rewrite_expr` turns into other SQL text.
const REWRITTEN: &[&str] = &[
    "count_if",
    "max_by",
    "min_by",
    "none_match",
    "all_match",
    "to_unixtime",
    "date",
];

fn rename(f: &mut Function, name: &str) {
    f.name = datafusion::sql::sqlparser::ast::ObjectName::from(vec![Ident::new(name)]);
}

/// Trino function calls DataFusion spells differently. Returns the replacement, if any.
fn rewrite_expr(expr: &Expr) -> Result<Option<Expr>> {
    if let Expr::Lambda(lambda) = expr {
        return lambda_fields(lambda).map(Some);
    }
    if let Expr::CompoundFieldAccess { root, access_chain } = expr {
        return field_access(root, access_chain);
    }
    let Expr::Function(f) = expr else {
        return Ok(None);
    };
    let name = f.name.to_string().to_lowercase();
    if name == "element_at"
        && let Some(args) = plain_args(f)
        && let [_, index] = args.as_slice()
        && let FunctionArguments::List(list) = &f.args
        && let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(array))) = list.args.first()
        && is_tag(array)
    {
        return tag_element(array, &parse_expr(index)?).map(Some);
    }
    if let Some((_, instead)) = UNSUPPORTED.iter().find(|(n, _)| *n == name) {
        return Err(unsupported(&format!("{name}()"), instead));
    }
    let renamed = match name.as_str() {
        "filter" => Some("array_filter"),
        "transform" => Some("array_transform"),
        "arbitrary" => Some("any_value"),
        "approx_percentile" => Some("approx_percentile_cont"),
        _ => None,
    };
    if let Some(new) = renamed {
        if name == "approx_percentile"
            && let FunctionArguments::List(list) = &f.args
            && list.args.iter().any(|a| {
                matches!(
                    a,
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Array(_)))
                )
            })
        {
            return Err(unsupported(
                "approx_percentile(x, ARRAY[...])",
                "one approx_percentile(x, p) per percentile",
            ));
        }
        let mut f = f.clone();
        rename(&mut f, new);
        return Ok(Some(Expr::Function(f)));
    }
    if name == "try" {
        return try_expr(f).map(Some);
    }
    let Some(args) = plain_args(f) else {
        if REWRITTEN.contains(&name.as_str()) || DATE_PARTS.contains(&name.as_str()) {
            return Err(unsupported(
                &format!("{name}(...) with DISTINCT, ORDER BY, FILTER or OVER"),
                "the DataFusion form, which takes those clauses: count_if(p) is \
                 count(CASE WHEN p THEN 1 END), max_by(x, y) is first_value(x ORDER BY y DESC)",
            ));
        }
        return Ok(None);
    };
    let sql = match (name.as_str(), args.as_slice()) {
        ("count_if", [p]) => format!("count(CASE WHEN {p} THEN 1 END)"),
        ("max_by", [x, y]) => format!("first_value({x} ORDER BY {y} DESC NULLS LAST)"),
        ("min_by", [x, y]) => format!("first_value({x} ORDER BY {y} ASC NULLS LAST)"),
        ("max_by" | "min_by", _) => {
            return Err(unsupported(
                &format!("{name}(x, y, n)"),
                "array_agg(x ORDER BY y DESC) and element_at/slicing for the first n",
            ));
        }
        ("none_match", [a, l]) => format!("NOT any_match({a}, {l})"),
        ("all_match", [a, l]) => match l.split_once(" -> ") {
            Some((params, body)) => {
                format!("NOT any_match({a}, {params} -> NOT coalesce({body}, false))")
            }
            None => return Ok(None),
        },
        ("to_unixtime", [t]) => format!("CAST(date_part('epoch', {t}) AS DOUBLE)"),
        ("date", [x]) => format!("CAST({x} AS DATE)"),
        ("day_of_week" | "dow", [t]) => {
            // DataFusion's dow has Sunday 0; Trino's is ISO, Sunday 7.
            format!("((CAST(date_part('dow', {t}) AS BIGINT) + 6) % 7 + 1)")
        }
        (part, [t]) if DATE_PARTS.contains(&part) => {
            let part = match part {
                "day_of_month" => "day",
                "day_of_year" => "doy",
                other => other,
            };
            // Trino's second() and millisecond() are whole numbers; date_part's have the
            // fraction (millisecond counts the seconds too).
            let modulo = if part == "millisecond" { " % 1000" } else { "" };
            format!("(CAST(date_part('{part}', {t}) AS BIGINT){modulo})")
        }
        _ => return Ok(None),
    };
    parse_expr(&sql).map(Some)
}

/// Field access after a subscript or a call (`bounce.bouncedrecipients[1].diagnosticcode`,
/// `element_at(arr, 1).emailaddress`), which DataFusion's planner takes only with the name
/// quoted: written `['diagnosticcode']` (the same access, and text that parses back the
/// same when another rewrite prints the expression). A name is lower-cased unless quoted,
/// as Athena does. And a subscript on a tag (`mail.tags.ses_source_ip[1]`), whose values
/// Athena's DDL types `array(varchar)`: see `tag_element`.
fn field_access(root: &Expr, chain: &[AccessExpr]) -> Result<Option<Expr>> {
    // The identifiers up to the first subscript name a column and its fields: DataFusion
    // resolves those itself.
    let named = match root {
        Expr::Identifier(_) => chain
            .iter()
            .take_while(|a| matches!(a, AccessExpr::Dot(Expr::Identifier(_))))
            .count(),
        _ => 0,
    };
    let idents: Vec<&Ident> = std::iter::once(root)
        .chain(chain[..named].iter().map(|a| match a {
            AccessExpr::Dot(e) => e,
            AccessExpr::Subscript(_) => unreachable!("counted as a name"),
        }))
        .filter_map(|e| match e {
            Expr::Identifier(i) => Some(i),
            _ => None,
        })
        .collect();
    let index = |a: &AccessExpr| match a {
        AccessExpr::Subscript(Subscript::Index { index }) => Some(index.clone()),
        _ => None,
    };
    let n = idents.len();
    let rest = &chain[named..];
    // `mail.tags.name[i]` and `mail.tags['name'][i]`.
    let named_tag = Expr::CompoundIdentifier(idents.iter().copied().cloned().collect());
    let tag = if is_tag(&named_tag) {
        rest.first().and_then(index).map(|i| (named_tag, i, 1))
    } else if n >= 2
        && unquoted(idents[n - 2], "mail")
        && unquoted(idents[n - 1], "tags")
        && let Some(Expr::Value(key)) = rest.first().and_then(index)
        && matches!(key.value, Value::SingleQuotedString(_))
    {
        rest.get(1).and_then(index).map(|i| {
            let value = Expr::CompoundFieldAccess {
                root: Box::new(root.clone()),
                access_chain: chain[..=named].to_vec(),
            };
            (value, i, 2)
        })
    } else {
        None
    };
    let tagged = tag.is_some();
    let (root, rest) = match tag {
        Some((value, i, used)) => (tag_element(&value, &i)?, &rest[used..]),
        None => (root.clone(), rest),
    };
    let mut changed = tagged;
    let rest: Vec<AccessExpr> = rest
        .iter()
        .map(|a| match a {
            AccessExpr::Dot(Expr::Identifier(i)) => {
                changed = true;
                let name = match i.quote_style {
                    None => i.value.to_lowercase(),
                    Some(_) => i.value.clone(),
                };
                AccessExpr::Subscript(Subscript::Index {
                    index: Expr::value(Value::SingleQuotedString(name)),
                })
            }
            other => other.clone(),
        })
        .collect();
    if !changed {
        return Ok(None);
    }
    let mut access_chain = if tagged {
        Vec::new()
    } else {
        chain[..named].to_vec()
    };
    access_chain.extend(rest);
    Ok(Some(if access_chain.is_empty() {
        root
    } else {
        Expr::CompoundFieldAccess {
            root: Box::new(root),
            access_chain,
        }
    }))
}

/// `mail.tags.name`, which seslog exposes as a string.
fn is_tag(expr: &Expr) -> bool {
    match expr {
        Expr::CompoundIdentifier(parts) => {
            let n = parts.len();
            n >= 3 && unquoted(&parts[n - 3], "mail") && unquoted(&parts[n - 2], "tags")
        }
        _ => false,
    }
}

/// `ident` is `name` written without quotes, in any case.
fn unquoted(ident: &Ident, name: &str) -> bool {
    ident.quote_style.is_none() && ident.value.eq_ignore_ascii_case(name)
}

/// Element `index` of a tag's values, as Athena's `array(varchar)` tags give it. SES gives
/// every tag one value (a message tag is a name and a value; the auto-tags are one each),
/// which seslog exposes as the string itself: element 1 is that string, any other is
/// null, as `element_at` past the end of an array is.
fn tag_element(value: &Expr, index: &Expr) -> Result<Expr> {
    parse_expr(&format!("CASE WHEN {index} = 1 THEN {value} END"))
}

fn lambda_params(lambda: &LambdaFunction) -> Vec<String> {
    let params = match &lambda.params {
        OneOrManyWithParens::One(p) => std::slice::from_ref(p),
        OneOrManyWithParens::Many(ps) => ps.as_slice(),
    };
    params.iter().map(|p| p.name.value.to_lowercase()).collect()
}

/// Inside a lambda, `x.field` on the lambda's parameter becomes `x['field']`: DataFusion
/// resolves dotted names against tables only.
fn lambda_fields(lambda: &LambdaFunction) -> Result<Expr> {
    let params = lambda_params(lambda);
    let mut lambda = lambda.clone();
    let mut failed = None;
    let _ = visit_expressions_mut(&mut *lambda.body, |e| {
        if let Expr::CompoundIdentifier(parts) = e
            && parts.len() >= 2
            && params.contains(&parts[0].value.to_lowercase())
        {
            let mut sql = parts[0].to_string();
            for field in &parts[1..] {
                let name = match field.quote_style {
                    Some(_) => field.value.clone(),
                    None => field.value.to_lowercase(),
                };
                sql.push_str(&format!("['{}']", name.replace('\'', "''")));
            }
            match parse_expr(&sql) {
                Ok(new) => *e = new,
                Err(err) => failed = Some(err),
            }
        }
        ControlFlow::<()>::Continue(())
    });
    if let Some(err) = failed {
        return Err(err);
    }
    Ok(Expr::Lambda(lambda))
}

/// Trino's `try(e)`: NULL where `e` would fail. What fails in seslog's functions are
/// casts (made `TRY_CAST`), division by zero (the divisor made NULL), and the parsing
/// functions in [`LENIENT`] (their lenient twins).
fn try_expr(f: &Function) -> Result<Expr> {
    let FunctionArguments::List(list) = &f.args else {
        return Err(unsupported("try without an argument", "try(expression)"));
    };
    let [FunctionArg::Unnamed(FunctionArgExpr::Expr(inner))] = list.args.as_slice() else {
        return Err(unsupported(
            "try with more than one argument",
            "try(expression)",
        ));
    };
    let mut inner = inner.clone();
    let _ = visit_expressions_mut(&mut inner, |e| {
        match e {
            Expr::Cast { kind, .. } => *kind = CastKind::TryCast,
            Expr::BinaryOp {
                op: BinaryOperator::Divide | BinaryOperator::Modulo,
                right,
                ..
            } => {
                let divisor = right.to_string();
                **right = parse_expr(&format!("nullif({divisor}, 0)")).expect("valid SQL");
            }
            Expr::Function(g) => {
                let name = g.name.to_string().to_lowercase();
                if LENIENT.contains(&name.as_str()) {
                    rename(g, &format!("try_{name}"));
                }
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    Ok(Expr::Nested(Box::new(inner)))
}

/// `FROM t CROSS JOIN UNNEST(a, b) [WITH ORDINALITY] AS u(x, y[, n])` (or `, UNNEST(...)`)
/// becomes `FROM (SELECT t.*, unnest(a) AS x, unnest(b) AS y[, ordinal AS n] FROM t) AS t`:
/// DataFusion unnests in a select list (zipping several arrays, as Trino does) but not as a
/// lateral join on nested columns. References `u.x` become `x`.
fn unnest_joins(select: &mut Select) -> Result<()> {
    // A FROM that starts with UNNEST (`FROM UNNEST(ARRAY[1, 2]) AS t(x)`) is a table
    // function DataFusion plans itself; only UNNESTs joined to a relation need the rewrite.
    let joined = |t: &TableWithJoins| {
        t.joins
            .iter()
            .any(|j| matches!(j.relation, TableFactor::UNNEST { .. }))
    };
    let needs_rewrite = match select.from.first() {
        Some(first) if !matches!(first.relation, TableFactor::UNNEST { .. }) => {
            joined(first)
                || select.from[1..]
                    .iter()
                    .any(|t| matches!(t.relation, TableFactor::UNNEST { .. }) || joined(t))
        }
        _ => false,
    };
    if !needs_rewrite {
        return Ok(());
    }
    // Flatten `a, UNNEST(..)` and `a CROSS JOIN UNNEST(..)` into one sequence.
    let mut from = std::mem::take(&mut select.from).into_iter();
    let first = from.next().expect("a FROM with an UNNEST has a relation");
    let mut base = first.relation;
    let mut steps: Vec<(TableFactor, bool)> = first
        .joins
        .into_iter()
        .map(|j| {
            let cross = matches!(
                j.join_operator,
                JoinOperator::CrossJoin(JoinConstraint::None)
            ) || matches!(
                &j.join_operator,
                JoinOperator::Inner(JoinConstraint::On(Expr::Value(v)))
                    | JoinOperator::Join(JoinConstraint::On(Expr::Value(v)))
                    if v.value == Value::Boolean(true)
            );
            (j.relation, cross)
        })
        .collect();
    for more in from {
        steps.push((more.relation, true));
        if !more.joins.is_empty() {
            return Err(unsupported(
                "a JOIN after a comma-separated UNNEST",
                "write the UNNEST with CROSS JOIN UNNEST(...) AS t(x), or move the JOIN into a subquery",
            ));
        }
    }
    let mut names: HashSet<String> = HashSet::new();
    for (relation, cross) in steps {
        let TableFactor::UNNEST {
            alias,
            array_exprs,
            with_offset,
            with_ordinality,
            ..
        } = relation
        else {
            return Err(unsupported(
                "a JOIN together with UNNEST in one FROM",
                "do the UNNEST in a subquery (WITH u AS (SELECT ... FROM seslogs CROSS JOIN UNNEST(...) AS t(x))) and join that",
            ));
        };
        if !cross {
            return Err(unsupported(
                "LEFT JOIN UNNEST (keeping rows whose array is empty)",
                "CROSS JOIN UNNEST(...) AS t(x) drops rows with empty or NULL arrays; UNION ALL the rows WHERE cardinality(arr) = 0 to keep them",
            ));
        }
        if with_offset {
            return Err(unsupported(
                "UNNEST ... WITH OFFSET",
                "UNNEST(...) WITH ORDINALITY AS t(x, n)",
            ));
        }
        let columns: Vec<String> = alias
            .as_ref()
            .map(|a| a.columns.iter().map(|c| c.name.value.clone()).collect())
            .unwrap_or_default();
        let wanted = array_exprs.len() + usize::from(with_ordinality);
        if columns.len() != wanted {
            let example = if array_exprs.len() == 1 && columns.len() == 2 {
                "for a map, UNNEST(map_keys(m), map_values(m)) AS t(k, v); for an array of rows, UNNEST(arr) AS t(r) and then r.field"
            } else {
                "name one column per array (plus one for WITH ORDINALITY): UNNEST(arr) AS t(x)"
            };
            return Err(unsupported(
                &format!(
                    "UNNEST of {} array(s) with {} column name(s)",
                    array_exprs.len(),
                    columns.len()
                ),
                example,
            ));
        }
        if let Some(a) = &alias {
            names.insert(a.name.value.to_lowercase());
        }
        let qualifier = match &base {
            TableFactor::Table { name, alias, .. } => alias
                .as_ref()
                .map(|a| a.name.to_string())
                .unwrap_or_else(|| name.0.last().map(|p| p.to_string()).unwrap_or_default()),
            TableFactor::Derived {
                alias: Some(alias), ..
            } => alias.name.to_string(),
            _ => {
                return Err(unsupported(
                    "UNNEST joined to an unnamed subquery",
                    "give the subquery a name: FROM (SELECT ...) AS s CROSS JOIN UNNEST(s.arr) AS t(x)",
                ));
            }
        };
        let mut items = vec![format!("{qualifier}.*")];
        for (e, c) in array_exprs.iter().zip(&columns) {
            items.push(format!("unnest({e}) AS {c}"));
        }
        if with_ordinality {
            let first = &array_exprs[0];
            items.push(format!(
                "unnest(range(1, CAST(cardinality({first}) AS BIGINT) + 1)) AS {}",
                columns[array_exprs.len()]
            ));
        }
        base = parse_table_factor(&format!(
            "(SELECT {} FROM {base}) AS {qualifier}",
            items.join(", ")
        ))?;
    }
    select.from = vec![TableWithJoins {
        relation: base,
        joins: vec![],
    }];
    // `t.x` -> `x` for the UNNEST aliases, in this SELECT (subqueries included); a lambda
    // parameter of the same name shadows the alias, as in Trino.
    let _ = visit_expressions_mut(select, |e| {
        if let Expr::Lambda(l) = e {
            for p in lambda_params(l) {
                names.remove(&p);
            }
        }
        ControlFlow::<()>::Continue(())
    });
    let _ = visit_expressions_mut(select, |e| {
        if let Expr::CompoundIdentifier(parts) = e
            && parts.len() >= 2
            && names.contains(&parts[0].value.to_lowercase())
        {
            let rest: Vec<Ident> = parts[1..].to_vec();
            *e = if rest.len() == 1 {
                Expr::Identifier(rest[0].clone())
            } else {
                Expr::CompoundIdentifier(rest)
            };
        }
        ControlFlow::<()>::Continue(())
    });
    Ok(())
}
