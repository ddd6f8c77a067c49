//! Which parts of the nested columns a query reads, so the scan decodes only those leaves.
//! DataFusion prunes top-level columns only: `SELECT mail.source` would decode all of
//! `mail` (headers, tags, common headers), most of every record. Here the logical plan is
//! read before it runs: a column used only through field access (`mail.source`,
//! `mail['commonheaders']['subject']`, Athena's `bounce.bouncetype`) needs only those
//! paths; a column used any other way (`SELECT mail`, `to_json(bounce)`, `GROUP BY mail`)
//! is needed whole. A projection that only passes a column on (under its name or an alias,
//! as the planner does around UNNEST and subqueries) is not a use: what is read of the
//! name it passes on counts for the column. What leaves the query (its result, a
//! subquery's result, each side of a UNION) is read whole. Names are matched without
//! qualifiers, so a same-named column elsewhere only makes the answer more conservative.
//!
//! The result travels to the scan as a session extension of the one query (`ReadPaths`),
//! not as state on the table.

use std::collections::BTreeMap;

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::{Expr, LogicalPlan};

/// What is read of one column: all of it, or only some of its children (by exposed,
/// lower-case name), each again all or in part.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Part {
    All,
    Some(BTreeMap<String, Part>),
}

impl Part {
    fn merge(&mut self, other: &Part) {
        match (&mut *self, other) {
            (Part::All, _) => {}
            (_, Part::All) => *self = Part::All,
            (Part::Some(mine), Part::Some(theirs)) => {
                for (name, part) in theirs {
                    match mine.get_mut(name) {
                        Some(m) => m.merge(part),
                        None => {
                            mine.insert(name.clone(), part.clone());
                        }
                    }
                }
            }
        }
    }

    fn add(&mut self, path: &[String]) {
        let Part::Some(children) = self else { return };
        match path.split_first() {
            None => *self = Part::All,
            Some((head, rest)) => children
                .entry(head.clone())
                .or_insert_with(|| Part::Some(BTreeMap::new()))
                .add(rest),
        }
    }
}

/// What one query reads of each column it mentions (by exposed name). A column that is not
/// here is read whole when it is projected: this only ever narrows, never widens.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReadPaths {
    pub columns: BTreeMap<String, Part>,
}

impl ReadPaths {
    /// The part of `column` the query reads (`All` when nothing narrower is known).
    pub fn of(&self, column: &str) -> Part {
        self.columns.get(column).cloned().unwrap_or(Part::All)
    }

    fn read(&mut self, column: &str, path: &[String]) {
        self.columns
            .entry(column.to_string())
            .or_insert_with(|| Part::Some(BTreeMap::new()))
            .add(path);
    }

    /// Every field access and column reference in every expression of the plan, its
    /// subqueries included.
    pub fn of_plan(plan: &LogicalPlan) -> Self {
        let mut paths = ReadPaths::default();
        // Names a projection passed a column on under: alias -> the names it came from.
        let mut passed: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let _ = plan.apply_with_subqueries(|node| {
            match node {
                LogicalPlan::Projection(p) => {
                    for e in &p.expr {
                        match passed_on(e) {
                            Some((from, to)) if from != to => {
                                passed.entry(to).or_default().push(from);
                            }
                            Some(_) => {}
                            None => paths.visit(e),
                        }
                    }
                }
                LogicalPlan::Union(u) => {
                    for input in &u.inputs {
                        paths.read_outputs(input);
                    }
                }
                other => {
                    let _ = other.apply_expressions(|e| {
                        paths.visit(e);
                        Ok(TreeNodeRecursion::Continue)
                    });
                }
            }
            Ok(TreeNodeRecursion::Continue)
        });
        let root = match plan {
            LogicalPlan::Explain(e) => e.plan.as_ref(),
            LogicalPlan::Analyze(a) => a.input.as_ref(),
            other => other,
        };
        paths.read_outputs(root);
        // What was read of a name counts for every column passed on under it.
        for _ in 0..passed.len() + 1 {
            let before = paths.clone();
            for (to, froms) in &passed {
                if let Some(part) = before.columns.get(to) {
                    for from in froms {
                        paths
                            .columns
                            .entry(from.clone())
                            .or_insert_with(|| Part::Some(BTreeMap::new()))
                            .merge(part);
                    }
                }
            }
            if paths == before {
                break;
            }
        }
        paths
    }

    /// A plan's result leaves it whole.
    fn read_outputs(&mut self, plan: &LogicalPlan) {
        for field in plan.schema().fields() {
            self.read(field.name(), &[]);
        }
    }

    fn visit(&mut self, expr: &Expr) {
        match expr {
            Expr::Column(c) | Expr::OuterReferenceColumn(_, c) => self.read(&c.name, &[]),
            Expr::ScalarSubquery(q) => self.read_outputs(&q.subquery),
            Expr::InSubquery(q) => {
                self.visit(&q.expr);
                self.read_outputs(&q.subquery.subquery);
            }
            Expr::ScalarFunction(f) if f.func.name() == "get_field" => {
                // get_field(base, 'a', 'b', ...), possibly nested in another get_field.
                let mut path = Vec::new();
                let mut base = expr;
                while let Expr::ScalarFunction(g) = base
                    && g.func.name() == "get_field"
                    && !g.args.is_empty()
                {
                    let names: Option<Vec<String>> = g.args[1..].iter().map(field_name).collect();
                    match names {
                        Some(names) => {
                            path.splice(0..0, names);
                        }
                        None => {
                            // A computed key: everything below the base is read.
                            path.clear();
                            for arg in &g.args[1..] {
                                self.visit(arg);
                            }
                        }
                    }
                    base = &g.args[0];
                }
                match base {
                    Expr::Column(c) => self.read(&c.name, &path),
                    other => self.visit(other),
                }
            }
            other => {
                let _ = other.apply_children(|child| {
                    self.visit(child);
                    Ok(TreeNodeRecursion::Continue)
                });
            }
        }
    }
}

/// `col` or `col AS name` in a projection: (the column's name, the name it is passed on as).
fn passed_on(expr: &Expr) -> Option<(String, String)> {
    match expr {
        Expr::Column(c) => Some((c.name.clone(), c.name.clone())),
        Expr::Alias(a) => match a.expr.as_ref() {
            Expr::Column(c) => Some((c.name.clone(), a.name.clone())),
            _ => None,
        },
        _ => None,
    }
}

/// A field name in a get_field path: a string literal.
fn field_name(arg: &Expr) -> Option<String> {
    match arg {
        Expr::Literal(value, _) => value.try_as_str().flatten().map(str::to_string),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::schema;
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionContext;

    async fn paths(sql: &str) -> ReadPaths {
        let ctx = SessionContext::new();
        let table = MemTable::try_new(schema::file_schema(), vec![vec![]]).unwrap();
        ctx.register_table("seslogs", std::sync::Arc::new(table))
            .unwrap();
        let plan = ctx.state().create_logical_plan(sql).await.unwrap();
        ReadPaths::of_plan(&plan)
    }

    fn some(entries: &[(&str, Part)]) -> Part {
        Part::Some(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[tokio::test]
    async fn field_access_narrows_and_any_other_use_reads_whole() {
        let p = paths("SELECT mail.source, mail.commonheaders.subject FROM seslogs WHERE mail.messageid = 'x'").await;
        assert_eq!(
            p.of("mail"),
            some(&[
                ("commonheaders", some(&[("subject", Part::All)])),
                ("messageid", Part::All),
                ("source", Part::All),
            ])
        );
        assert_eq!(
            p.of("bounce"),
            Part::All,
            "not mentioned: whole if projected"
        );
        let p = paths("SELECT mail.source, mail FROM seslogs").await;
        assert_eq!(p.of("mail"), Part::All);
        let p = paths("SELECT m FROM (SELECT mail AS m FROM seslogs)").await;
        assert_eq!(p.of("mail"), Part::All, "the result is read whole");
        let p = paths("SELECT x.m.source FROM (SELECT mail AS m FROM seslogs) x").await;
        assert_eq!(
            p.of("mail"),
            some(&[("source", Part::All)]),
            "passed on, then one field read"
        );
        let p = paths("SELECT a FROM (SELECT mail AS a FROM seslogs UNION ALL SELECT bounce AS b FROM seslogs)").await;
        assert_eq!(
            p.of("bounce"),
            Part::All,
            "each side of a union is read whole"
        );
        let p = paths("SELECT * FROM seslogs").await;
        assert_eq!(p.of("mail"), Part::All);
        let p = paths(
            "SELECT n FROM (SELECT bounce.bouncedrecipients[1]['diagnosticcode'] AS n, unnest(mail.destination) AS d FROM seslogs)",
        )
        .await;
        assert_eq!(p.of("bounce"), some(&[("bouncedrecipients", Part::All)]));
        assert_eq!(p.of("mail"), some(&[("destination", Part::All)]));
        let p = paths("SELECT count(*) FROM seslogs WHERE EXISTS (SELECT 1 FROM seslogs s WHERE s.bounce.bouncetype = 'Permanent')").await;
        assert_eq!(p.of("bounce"), some(&[("bouncetype", Part::All)]));
    }
}
