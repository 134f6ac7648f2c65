//! `stream::Bus`: topics, fan-out, backpressure from slow subscribers, and
//! subscriptions that end when dropped.

mod support;

use std::time::Duration;

use aleph::stream::{Bus, Channel};
use support::{at_most, settle, within};

#[tokio::test]
async fn publish_reaches_every_subscriber_of_the_topic_and_no_other() {
    let bus: Bus<String, u32> = Bus::new();
    let (a, b) = (bus.subscribe("chat".into()), bus.subscribe("chat".into()));
    let other = bus.subscribe("news".into());
    assert_eq!(within(bus.publish("chat", 7)).await, 2);
    assert_eq!(a.try_recv(), Ok(7));
    assert_eq!(b.try_recv(), Ok(7));
    assert!(other.try_recv().is_err(), "another topic gets nothing");
    assert_eq!(within(bus.publish("nobody", 1)).await, 0);
}

#[tokio::test]
async fn a_slow_subscriber_slows_the_publisher_but_not_the_other_subscribers() {
    let bus = Bus::with_capacity(1);
    let slow = bus.subscribe("t");
    let fast = bus.subscribe("t");
    assert_eq!(within(bus.publish("t", 1)).await, 2);
    assert_eq!(fast.try_recv(), Ok(1));

    let publisher = bus.clone();
    let second = tokio::spawn(async move { publisher.publish("t", 2).await });
    // The slow subscription is full: the publish waits, but the fast one got it.
    assert_eq!(within(fast.recv()).await, Some(2));
    settle().await;
    assert!(
        !second.is_finished(),
        "the publisher waits for the slow subscriber"
    );
    assert_eq!(slow.try_recv(), Ok(1));
    assert_eq!(within(second).await.unwrap(), 2);
    assert_eq!(slow.try_recv(), Ok(2));
}

#[tokio::test]
async fn a_sliding_subscription_never_holds_the_publisher_back() {
    let bus = Bus::with_capacity(1);
    let latest = bus.subscribe_with("gauge", Channel::sliding(1));
    let first = bus.subscribe_with("gauge", Channel::dropping(1));
    for reading in 1..=5 {
        assert_eq!(within(bus.publish("gauge", reading)).await, 2);
    }
    assert_eq!(latest.try_recv(), Ok(5));
    assert_eq!(first.try_recv(), Ok(1));
    assert_eq!(latest.description().dropped, 4);
}

#[tokio::test]
async fn dropping_a_subscription_unsubscribes_it() {
    let bus: Bus<&str, u8> = Bus::new();
    let rx = bus.subscribe("t");
    let kept = bus.subscribe("kept");
    assert!(bus.is_active("t"));
    drop(rx);
    assert!(!bus.is_active("t"));
    assert_eq!(bus.topics(), ["kept"]);
    assert_eq!(within(bus.publish("t", 1)).await, 0);
    assert_eq!(within(bus.publish("kept", 1)).await, 1);
    assert_eq!(kept.try_recv(), Ok(1));
}

#[tokio::test]
async fn a_subscription_dropped_while_a_publish_waits_releases_the_publisher() {
    let bus = Bus::with_capacity(1);
    let slow = bus.subscribe("t");
    let fast = bus.subscribe("t");
    within(bus.publish("t", 1)).await;
    assert_eq!(fast.try_recv(), Ok(1));
    let publisher = bus.clone();
    let waiting = tokio::spawn(async move { publisher.publish("t", 2).await });
    assert_eq!(within(fast.recv()).await, Some(2));
    drop(slow);
    assert_eq!(
        within(waiting).await.unwrap(),
        1,
        "only the live subscriber counts"
    );
    assert_eq!(
        bus.description().topics[0].1.len(),
        1,
        "the ended one is forgotten"
    );
}

#[tokio::test]
async fn dropping_the_bus_ends_its_subscriptions_after_what_was_published() {
    let bus = Bus::new();
    let rx = bus.subscribe(1u8);
    let clone = bus.clone();
    within(bus.publish(&1, "last")).await;
    drop(bus);
    assert!(!rx.is_closed(), "a clone of the bus keeps it open");
    drop(clone);
    assert_eq!(within(rx.recv()).await, Some("last"));
    assert_eq!(within(rx.recv()).await, None);
    assert!(rx.error().is_none());
}

#[tokio::test]
async fn an_unbuffered_bus_waits_until_every_subscriber_took_the_message() {
    let bus = Bus::with_capacity(0);
    let rx = bus.subscribe("t");
    let publisher = bus.clone();
    let publish = tokio::spawn(async move { publisher.publish("t", 1).await });
    settle().await;
    assert!(!publish.is_finished());
    assert_eq!(within(rx.recv()).await, Some(1));
    assert_eq!(within(publish).await.unwrap(), 1);
}

#[tokio::test]
async fn a_subscription_made_while_a_publish_waits_does_not_get_that_message() {
    let bus = Bus::with_capacity(1);
    let slow = bus.subscribe("t");
    within(bus.publish("t", 1)).await;
    let publisher = bus.clone();
    let waiting = tokio::spawn(async move { publisher.publish("t", 2).await });
    settle().await;
    let late = bus.subscribe("t");
    assert_eq!(slow.try_recv(), Ok(1));
    assert_eq!(within(waiting).await.unwrap(), 1);
    assert!(late.try_recv().is_err());
}

#[tokio::test]
async fn the_description_names_each_topic_and_its_subscriptions() {
    let bus: Bus<&str, u8> = Bus::with_capacity(2);
    let _a = bus.subscribe("a");
    let _b = bus.subscribe("a");
    within(bus.publish("a", 1)).await;
    let d = bus.description();
    assert_eq!(d.topics.len(), 1);
    let (topic, subscriptions) = &d.topics[0];
    assert_eq!(topic, "\"a\"");
    assert_eq!(subscriptions.len(), 2);
    assert!(subscriptions
        .iter()
        .all(|s| s.buffered == 1 && s.capacity == 2));
    assert_eq!(d.to_string(), "bus: 1 topics, 2 subscriptions");
}

#[tokio::test(start_paused = true)]
async fn a_dropped_publish_keeps_what_was_delivered_and_delivers_nothing_more() {
    let bus = Bus::with_capacity(1);
    let slow = bus.subscribe("t");
    let fast = bus.subscribe("t");
    within(bus.publish("t", 1)).await;
    assert_eq!(fast.try_recv(), Ok(1));
    assert!(at_most(Duration::from_millis(10), bus.publish("t", 2))
        .await
        .is_none());
    assert_eq!(
        fast.try_recv(),
        Ok(2),
        "accepted before the publish was dropped"
    );
    assert_eq!(slow.try_recv(), Ok(1));
    assert!(slow.try_recv().is_err(), "never delivered once dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishers_reach_every_subscriber_in_each_publishers_order() {
    let bus: Bus<&str, (u32, u32)> = Bus::with_capacity(4);
    let subscribers: Vec<_> = (0..3).map(|_| bus.subscribe("t")).collect();
    let publishers: Vec<_> = (0..4)
        .map(|p| {
            let bus = bus.clone();
            tokio::spawn(async move {
                for i in 0..100 {
                    assert_eq!(bus.publish("t", (p, i)).await, 3);
                }
            })
        })
        .collect();
    let readers: Vec<_> = subscribers
        .into_iter()
        .map(|rx| {
            tokio::spawn(async move {
                let mut last = [None::<u32>; 4];
                for _ in 0..400 {
                    let (p, i) = rx.recv().await.expect("400 messages");
                    let slot = &mut last[p as usize];
                    assert!(
                        slot.is_none_or(|prev| prev < i),
                        "publisher {p} out of order"
                    );
                    *slot = Some(i);
                }
            })
        })
        .collect();
    for publisher in publishers {
        within(publisher).await.unwrap();
    }
    for reader in readers {
        within(reader).await.unwrap();
    }
}

#[tokio::test]
async fn topics_whose_subscriptions_all_ended_are_forgotten_without_a_publish() {
    let bus: Bus<u32, u8> = Bus::new();
    for topic in 0..1000 {
        drop(bus.subscribe(topic));
    }
    let closed_by_hand = bus.subscribe(7);
    closed_by_hand.close();
    assert!(
        bus.description().topics.is_empty(),
        "nothing is kept for ended subscriptions: {}",
        bus.description()
    );
}
