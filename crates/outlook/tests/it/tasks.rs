//! To Do tasks: default list, linkedResource sync ids, moves between lists.

use chrono::NaiveDate;
use crmsync_core::{
    ChangeItem, Connector, Kind, Operation, Priority, Record, SyncId, Task, TaskStatus, Vanish,
};

use crate::contacts::round;
use crate::support::{scope, start};

#[tokio::test]
async fn tasks_round_trip_with_dates_and_linked_sync_ids() {
    let t = start().await;
    let sc = scope(Kind::Task, None);
    let task = Task {
        title: "Call back 回电话".into(),
        notes: "about the 📦".into(),
        due: NaiveDate::from_ymd_opt(2026, 3, 9),
        start: None,
        status: TaskStatus::WaitingOnOthers,
        priority: Priority::High,
        ..Default::default()
    };
    let out = t
        .conn
        .apply(
            &sc,
            vec![Operation::Create {
                sync_id: SyncId("task-1".into()),
                record: Record::Task(task.clone()).into(),
            }],
        )
        .await
        .unwrap();
    let w = out[0].as_ref().unwrap();
    assert_eq!(w.stored.as_deref(), Some(&Record::Task(task.clone())));
    let (items, _, _) = round(t.conn.as_ref(), &sc, None).await.unwrap();
    assert_eq!(items.len(), 1);
    let found = t
        .conn
        .find_by_sync_id(&sc, &[SyncId("task-1".into())])
        .await
        .unwrap();
    assert_eq!(found[0].1.id, w.id);

    // Moved to another list: a new id; the old one vanishes and is found by its sync id.
    let other = t.emu.create_task_list("Elsewhere").unwrap();
    t.emu.move_task(&w.id, &other).unwrap();
    let v = t
        .conn
        .classify_vanished(&sc, std::slice::from_ref(&w.id))
        .await
        .unwrap();
    assert_eq!(v[0].1, Vanish::OutOfScope);
    let f = t
        .conn
        .fetch(&sc, std::slice::from_ref(&w.id))
        .await
        .unwrap();
    assert!(matches!(f[0], ChangeItem::Vanished { .. }));
}

#[tokio::test]
async fn lossy_priority_is_documented() {
    let t = start().await;
    let sc = scope(Kind::Task, None);
    let task = Task {
        title: "x".into(),
        priority: Priority::Highest,
        ..Default::default()
    };
    let out = t
        .conn
        .apply(
            &sc,
            vec![Operation::Create {
                sync_id: SyncId("p".into()),
                record: Record::Task(task).into(),
            }],
        )
        .await
        .unwrap();
    let Some(Record::Task(back)) = out[0].as_ref().unwrap().stored.as_deref().cloned() else {
        panic!()
    };
    assert_eq!(
        back.priority,
        Priority::High,
        "Graph has three importance levels"
    );
}
