//! The miner and detectors scored on real labelled logs. Floors sit just
//! below what was measured (docs/anomalizer.md has the table), so a change
//! that loses accuracy fails here.

mod support;

use anomalizer::evaluation::{grouping as eval, rarity};
use support::{data_dir, loghub_format};

/// (dataset, floor with its `--log-format`, floor with no format), each
/// just under the measured value.
const FLOORS: [(&str, f64, f64); 8] = [
    ("HDFS", 0.99, 0.99),
    ("Hadoop", 0.96, 0.96),
    ("Spark", 0.91, 0.91),
    ("Zookeeper", 0.98, 0.98),
    ("BGL", 0.97, 0.95),
    ("Linux", 0.74, 0.74),
    ("Apache", 0.99, 0.99),
    ("OpenSSH", 0.98, 0.98),
];

#[test]
fn grouping_accuracy_on_loghub_2k_stays_above_measured_floors() {
    let data = data_dir();
    let mut failures = Vec::new();
    let (mut total, mut total_no_format) = (0.0, 0.0);
    for (dataset, floor, floor_no_format) in FLOORS {
        let score =
            eval::loghub_dataset(&data, dataset, &loghub_format(dataset), Default::default())
                .unwrap_or_else(|e| panic!("{dataset}: {}", e.message));
        assert_eq!(score.lines, 2000, "{dataset}");
        total += score.ga;
        total_no_format += score.ga_no_format;
        if score.ga < floor {
            failures.push(format!("{dataset}: GA {:.3} < {floor}", score.ga));
        }
        if score.ga_no_format < floor_no_format {
            failures.push(format!(
                "{dataset}: GA without a format {:.3} < {floor_no_format}",
                score.ga_no_format
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // Drain3 0.9.11 with its standard masking: 0.903 on the same data;
    // the goal is 0.95 (measured 0.952).
    assert!(total / 8.0 >= 0.95, "mean GA {:.3}", total / 8.0);
    // Measured 0.949 with automatic header detection.
    assert!(
        total_no_format / 8.0 >= 0.94,
        "mean GA without formats {:.3}",
        total_no_format / 8.0
    );
}

/// Scored as Loghub-2.0's evaluator does, true events told apart by their
/// corrected template text: Linux's E17/E18/E19 are one template there,
/// and every dataset clears the floor of 0.85, with its format and
/// without.
#[test]
fn grouping_accuracy_by_corrected_template_meets_the_goal() {
    let data = data_dir();
    let (mut total, mut total_no_format) = (0.0, 0.0);
    for (dataset, ..) in FLOORS {
        let score =
            eval::loghub_dataset(&data, dataset, &loghub_format(dataset), Default::default())
                .unwrap_or_else(|e| panic!("{dataset}: {}", e.message));
        assert!(score.ga_by_template >= score.ga, "{dataset}");
        assert!(
            score.ga_by_template >= 0.85,
            "{dataset}: GA by template {:.3}",
            score.ga_by_template
        );
        assert!(
            score.ga_no_format_by_template >= 0.85,
            "{dataset}: GA by template without a format {:.3}",
            score.ga_no_format_by_template
        );
        total += score.ga_by_template;
        total_no_format += score.ga_no_format_by_template;
    }
    // Measured 0.975 and 0.973; Linux 0.935 both ways.
    assert!(
        total / 8.0 >= 0.97,
        "mean GA by template {:.3}",
        total / 8.0
    );
    assert!(
        total_no_format / 8.0 >= 0.97,
        "mean GA by template without formats {:.3}",
        total_no_format / 8.0
    );
}

#[test]
fn hdfs_blocks_with_a_rare_event_are_caught() {
    let d = rarity::hdfs_sessions(&data_dir(), 0.01).unwrap();
    assert_eq!(d.positives, 16_838, "every abnormal session is scored");
    assert!(d.recall >= 0.6, "recall {:.3}", d.recall);
    let false_positive_rate = d.negatives_flagged as f64 / d.negatives as f64;
    assert!(
        false_positive_rate <= 0.01,
        "false positive rate {false_positive_rate:.4}"
    );
}

#[test]
fn bgl_alerts_concentrate_in_rare_templates() {
    let d = rarity::bgl_lines(&data_dir(), 0.01, Default::default()).unwrap();
    assert_eq!(d.positives, 143, "BGL_2k has 143 alert lines");
    assert!(d.recall >= 0.33, "recall {:.3}", d.recall);
    // 7% of lines are alerts: rare templates hold twice that share.
    assert!(d.precision >= 0.12, "precision {:.3}", d.precision);
}
