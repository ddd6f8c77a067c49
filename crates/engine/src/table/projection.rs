//! The scan's projection, made once per set of partition values instead of once per object.
//!
//! DataFusion's `ProjectionOpener` writes each object's partition values into the
//! projection as literals, looks for `input_file_name()`, and works out the projection's
//! output schema, for every object it opens. A query's objects share a few dozen (event
//! type, day) pairs among thousands of objects, and with nested columns (`get_field` on
//! `mail`) working out the schema costs more than reading a small object: about a tenth of
//! a recipient lookup's time went there. So this opener does the same substitution (file
//! columns renumbered to the columns the file reader returns, partition columns turned into
//! their values) once for each distinct set of partition values, and keeps the projector.
//! A projection that names `input_file_name()` differs for every object and is left to
//! `ProjectionOpener`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use datafusion::arrow::datatypes::Schema;
use datafusion::common::ScalarValue;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileOpenFuture, FileOpener};
use datafusion::datasource::projection::{ProjectionOpener, SplitProjection};
use datafusion::error::Result;
use datafusion::physical_expr::ScalarFunctionExpr;
use datafusion::physical_expr::expressions::{Column, Literal};
use datafusion::physical_expr::projection::{ProjectionExpr, ProjectionExprs, Projector};
use futures::{FutureExt, StreamExt};

pub struct SharedProjection {
    inner: Arc<dyn FileOpener>,
    /// The projection over the table's columns: the file's, then the partition columns.
    source: ProjectionExprs,
    file_columns: usize,
    /// The file columns the reader returns, in order.
    file_indices: Vec<usize>,
    /// The schema of what the reader returns.
    input_schema: Schema,
    made: Mutex<HashMap<Vec<ScalarValue>, Arc<Projector>>>,
}

impl SharedProjection {
    /// The opener for `projection` over what `inner` returns.
    pub fn opener(
        projection: SplitProjection,
        inner: Arc<dyn FileOpener>,
        file_schema: &Schema,
    ) -> Result<Arc<dyn FileOpener>> {
        if names_input_file(&projection.source)? {
            // Every row names its own object: a bundle is opened member by member.
            let opener = ProjectionOpener::try_new(projection, inner, file_schema)?;
            return Ok(Arc::new(crate::table::bundle::PerMember { inner: opener }));
        }
        Ok(Arc::new(Self::new(projection, inner, file_schema)?))
    }

    fn new(
        projection: SplitProjection,
        inner: Arc<dyn FileOpener>,
        file_schema: &Schema,
    ) -> Result<Self> {
        Ok(Self {
            inner,
            input_schema: file_schema.project(&projection.file_indices)?,
            file_columns: file_schema.fields().len(),
            file_indices: projection.file_indices,
            source: projection.source,
            made: Mutex::default(),
        })
    }

    fn projector(&self, partition_values: &[ScalarValue]) -> Result<Arc<Projector>> {
        if let Some(made) = self.lock().get(partition_values) {
            return Ok(Arc::clone(made));
        }
        let exprs = self
            .source
            .iter()
            .map(|p| {
                let expr = Arc::clone(&p.expr).transform(|expr| {
                    let Some(column) = expr.downcast_ref::<Column>() else {
                        return Ok(Transformed::no(expr));
                    };
                    let at = column.index();
                    let to = match at.checked_sub(self.file_columns) {
                        Some(partition) => {
                            Arc::new(Literal::new(partition_values[partition].clone())) as _
                        }
                        None => {
                            let read = self
                                .file_indices
                                .iter()
                                .position(|&i| i == at)
                                .expect("a file column the projection uses is read");
                            Arc::new(Column::new(column.name(), read)) as _
                        }
                    };
                    Ok(Transformed::yes(to))
                })?;
                Ok(ProjectionExpr::new(expr.data, p.alias.clone()))
            })
            .collect::<Result<Vec<_>>>()?;
        let projector = Arc::new(ProjectionExprs::new(exprs).make_projector(&self.input_schema)?);
        self.lock()
            .insert(partition_values.to_vec(), Arc::clone(&projector));
        Ok(projector)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<ScalarValue>, Arc<Projector>>> {
        // A panic while holding the lock leaves a whole map or none of the new entry.
        self.made.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl FileOpener for SharedProjection {
    fn open(&self, file: PartitionedFile) -> Result<FileOpenFuture> {
        let projector = self.projector(&file.partition_values)?;
        let inner = self.inner.open(file)?;
        Ok(async move {
            let batches = inner.await?;
            Ok(batches
                .map(move |batch| projector.project_batch(&batch?))
                .boxed())
        }
        .boxed())
    }
}

/// Whether any expression of the projection calls `input_file_name()`.
fn names_input_file(projection: &ProjectionExprs) -> Result<bool> {
    let mut found = false;
    for p in projection.iter() {
        p.expr.apply(|expr| {
            found |= expr
                .downcast_ref::<ScalarFunctionExpr>()
                .is_some_and(|f| f.name() == "input_file_name");
            Ok(if found {
                TreeNodeRecursion::Stop
            } else {
                TreeNodeRecursion::Continue
            })
        })?;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray, StructArray};
    use datafusion::arrow::datatypes::{DataType, Field, Fields};
    use datafusion::datasource::table_schema::TableSchema;
    use datafusion::physical_expr::expressions::col;
    use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};

    /// Returns the file's columns that the projection reads, as a file reader would.
    struct Reader {
        batch: RecordBatch,
    }

    impl FileOpener for Reader {
        fn open(&self, _file: PartitionedFile) -> Result<FileOpenFuture> {
            let batch = self.batch.clone();
            Ok(async move { Ok(futures::stream::iter([Ok(batch)]).boxed()) }.boxed())
        }
    }

    async fn rows(opener: &dyn FileOpener, file: PartitionedFile) -> Vec<RecordBatch> {
        let stream = opener.open(file).expect("opened").await.expect("a stream");
        stream.map(|b| b.expect("a batch")).collect().await
    }

    #[tokio::test]
    async fn gives_what_datafusion_gives_once_per_partition() {
        let mail = Fields::from(vec![Field::new("messageId", DataType::Utf8, true)]);
        let file_schema = Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("mail", DataType::Struct(mail.clone()), true),
            Field::new("c", DataType::Utf8, true),
        ]);
        let table = TableSchema::builder(Arc::new(file_schema.clone()))
            .with_table_partition_cols(vec![
                Arc::new(Field::new("event_type", DataType::Utf8, false)),
                Arc::new(Field::new("day", DataType::Utf8, false)),
            ])
            .build();
        let table_schema = table.table_schema();
        let message_id: Arc<dyn PhysicalExpr> = Arc::new(
            ScalarFunctionExpr::try_new(
                datafusion::functions::core::get_field(),
                vec![
                    col("mail", table_schema).unwrap(),
                    Arc::new(Literal::new(ScalarValue::from("messageId"))),
                ],
                table_schema,
                Arc::default(),
            )
            .unwrap(),
        );
        // Out of the file's order, a partition column between file columns, one twice.
        let projection = ProjectionExprs::new([
            ProjectionExpr::new(col("day", table_schema).unwrap(), "day"),
            ProjectionExpr::new(message_id, "id"),
            ProjectionExpr::new(col("c", table_schema).unwrap(), "c"),
            ProjectionExpr::new(col("event_type", table_schema).unwrap(), "type"),
            ProjectionExpr::new(col("day", table_schema).unwrap(), "day again"),
        ]);
        let split = SplitProjection::new(&file_schema, &projection);
        assert_eq!(split.file_indices, [1, 2]);
        let read = RecordBatch::try_new(
            Arc::new(file_schema.project(&split.file_indices).unwrap()),
            vec![
                Arc::new(StructArray::new(
                    mail,
                    vec![Arc::new(StringArray::from(vec!["m1", "m2"])) as ArrayRef],
                    None,
                )) as ArrayRef,
                Arc::new(StringArray::from(vec!["x", "y"])),
            ],
        )
        .unwrap();
        let reader: Arc<dyn FileOpener> = Arc::new(Reader { batch: read });
        let ours = SharedProjection::new(split.clone(), Arc::clone(&reader), &file_schema).unwrap();
        let theirs = ProjectionOpener::try_new(split, reader, &file_schema).unwrap();
        let file = |event: &str, day: &str| {
            let mut file = PartitionedFile::new(format!("{event}/{day}/o.gz"), 10);
            file.partition_values = vec![ScalarValue::from(event), ScalarValue::from(day)];
            file
        };
        for (event, day) in [
            ("Send", "2024/11/01"),
            ("Bounce", "2024/11/01"),
            ("Send", "2024/11/01"),
        ] {
            assert_eq!(
                rows(&ours, file(event, day)).await,
                rows(theirs.as_ref(), file(event, day)).await,
                "{event} {day}"
            );
        }
        assert_eq!(ours.lock().len(), 2, "one projector per (event type, day)");
    }
}
