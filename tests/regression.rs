//! One test per fixed bug, named for what broke.

mod common;

use common::Repo;

fn assert_hidden(out: &common::Output, secret: &str) {
    assert!(
        !out.stdout.contains(secret) && !out.stderr.contains(secret),
        "`{secret}` leaked:\n{}{}",
        out.stdout,
        out.stderr
    );
}

#[test]
fn values_without_provenance_hid_nothing() {
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        // Suppressed, so `values` shows the stream (a literal credential
        // is an error, and `values` prints nothing on errors).
        Some(
            "mainClass: x\nlint: {ignore: [values/literal-secret]}\nsparkConf: {spark.hadoop.fs.s3a.secret.key: HUNTER2SECRET}\n",
        ),
    )]);
    for args in [
        &["values", "--env", "dev"][..],
        &["values", "--env", "dev", "--provenance"],
        &["values", "--env", "dev", "--format", "json"],
    ] {
        let out = repo.sluice(args);
        assert_hidden(&out, "HUNTER2SECRET");
        assert!(out.stdout.contains("<hidden>"), "{}", out.stdout);
    }
}

#[test]
fn unparsable_files_showed_credentials_in_snippets() {
    for (text, secret) in [
        (
            "mainClass: x\nsparkConf:\n  spark.hadoop.fs.s3a.secret.key: A\n  spark.hadoop.fs.s3a.secret.key: HUNTER3\n",
            "HUNTER3",
        ),
        ("mainClass: x\ndb_password: HUNTER4: x\n", "HUNTER4"),
        ("mainClass: x\nspark.password: \"HUNTER5\\q\"\n", "HUNTER5"),
    ] {
        let repo = Repo::with(&[("values/streams/orders.yaml", Some(text))]);
        let out = repo.sluice(&["lint"]);
        assert_eq!(out.code, 1);
        assert_hidden(&out, secret);
    }
    let repo = Repo::with(&[]);
    repo.write(
        "values/streams/orders.yaml",
        b"mainClass: x\nsparkConf:\n  spark.password: HUNTER6\xff\n",
    );
    for format in ["human", "junit"] {
        assert_hidden(&repo.sluice(&["lint", "--format", format]), "HUNTER6");
    }
    let out = repo.sluice(&[
        "lint",
        "--set",
        "sparkConf.spark\\.hadoop\\.fs\\.s3a\\.secret\\.key=HUNTER9,executor..memory=1g",
    ]);
    assert_eq!(out.code, 2);
    assert_hidden(&out, "HUNTER9");
    assert_hidden(
        &repo.sluice(&["lint", "--set", "password\\=HUNTERMSG"]),
        "HUNTERMSG",
    );
}

#[test]
fn credentials_in_lists_and_maps_were_shown() {
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        Some(
            "mainClass: x\nsparkConf: {spark.token: [HUNTERLIST]}\nhadoopConf: {fs.s3a.secret.key: {nested: HUNTERMAP}}\ndriver:\n  sidecars:\n    - name: s\n      password: HUNTERSIDE\n      env: [{name: DB_PASSWORD, value: HUNTERK8S}]\n",
        ),
    )]);
    for args in [
        &["lint"][..],
        &["values", "--env", "dev", "--provenance"],
        &["values", "--env", "dev", "--format", "json"],
    ] {
        let out = repo.sluice(args);
        for secret in ["HUNTERLIST", "HUNTERMAP", "HUNTERSIDE", "HUNTERK8S"] {
            assert_hidden(&out, secret);
        }
    }
}

#[test]
fn schema_violations_echoed_whole_mappings() {
    let mut schema: serde_json::Value =
        serde_json::from_str(sluice::values::validate::BUILTIN_SCHEMA).unwrap();
    schema["$defs"]["values"]["properties"]["sparkConf"]["maxProperties"] = 1.into();
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        Some("mainClass: x\nsparkConf: {spark.a: \"1\", spark.password: HUNTERINST}\n"),
    )]);
    repo.write("schemas/values.schema.json", schema.to_string().as_bytes());
    for format in ["human", "json", "junit", "codequality"] {
        let out = repo.sluice(&["lint", "--format", format]);
        assert_eq!(out.code, 1);
        assert_hidden(&out, "HUNTERINST");
    }
}

#[test]
fn credential_keys_that_slipped_through() {
    for values in [
        "driver: {env: {KAFKA_SASL_JAAS_CONFIG: \"org.apache.kafka.common.security.plain.PlainLoginModule required;\"}}",
        "sparkConf: {spark.hadoop.fs.azure.account.key.acct.dfs.core.windows.net: abc}",
        "executor: {env: {DB_PASSWORD: 987654321}}",
        "enabled: false\nhadoopConf: {fs.s3a.secret.key: abc}",
    ] {
        let repo = Repo::with(&[(
            "values/streams/orders.yaml",
            Some(&format!("mainClass: x\n{values}\n")),
        )]);
        let out = repo.sluice(&["lint"]);
        assert!(
            out.stdout.contains("error[values/literal-secret]"),
            "{values}\n{}",
            out.stdout
        );
    }
}

#[test]
fn a_deep_set_path_overflowed_the_stack() {
    let path = vec!["a"; 30_000].join(".");
    let out = Repo::with(&[]).sluice(&["lint", "--set", &format!("{path}=1")]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("error[set/syntax]: value name nested level is greater than maximum supported nested level of 30"),
        "{}",
        out.stderr
    );
}

#[cfg(unix)]
#[test]
fn schema_to_a_full_disk_panicked() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return;
    };
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("sluice"))
        .arg("schema")
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(2), "{stderr}");
}

#[test]
fn an_empty_environments_block_wiped_the_stream() {
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        Some("mainClass: x\nenvironments:\n  dev:\n    # later\n"),
    )]);
    let out = repo.sluice(&["lint"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let out = repo.sluice(&["values", "--env", "dev", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["orders"]["mainClass"], "x");
}

#[test]
fn keys_equal_as_text_were_kept_three_times() {
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        Some("mainClass: x\nlabels: {1: a, \"1\": b, 1.0: c}\n"),
    )]);
    let out = repo.sluice(&["lint"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout
            .contains("error[yaml/duplicate-key]: duplicate key `1`"),
        "{}",
        out.stdout
    );
}

#[test]
fn integers_past_int32_passed() {
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        Some("mainClass: x\nexecutor: {instances: 99999999999999999999999999}\n"),
    )]);
    let out = repo.sluice(&["lint"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout
            .contains("`executor.instances` must be at most 2147483647"),
        "{}",
        out.stdout
    );
}

#[test]
fn values_through_aliases_pointed_at_the_alias() {
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        Some("mainClass: x\nx-defaults: &defs\n  memory: 4Gi\ndriver:\n  <<: *defs\n"),
    )]);
    let out = repo.sluice(&["lint"]);
    assert!(
        out.stdout.contains("--> values/streams/orders.yaml:3:11"),
        "{}",
        out.stdout
    );
}

#[test]
fn byte_order_marks_and_old_mac_line_ends() {
    let repo = Repo::with(&[]);
    repo.write(
        "values/environments/qa.yaml",
        "\u{FEFF}# qa\nnamespace: qa\n".as_bytes(),
    );
    repo.write("values/environments/staging.yaml", "\u{FEFF}".as_bytes());
    repo.write(
        "values/streams/orders.yaml",
        "\u{FEFF}mainClass: x\nexecutor: {memory: 4Gi}\n".as_bytes(),
    );
    let out = repo.sluice(&["lint", "--env", "qa"]);
    assert!(
        out.stdout.contains("--> values/streams/orders.yaml:2:20"),
        "{}",
        out.stdout
    );
    let out = repo.sluice(&["lint", "--env", "staging"]);
    assert!(
        out.stdout.contains("`namespace` is required"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("not-a-mapping"), "{}", out.stdout);

    repo.write(
        "values/streams/orders.yaml",
        b"mainClass: x\rexecutor:\r  memory: 4Gi\r",
    );
    let out = repo.sluice(&["lint", "--env", "dev"]);
    assert!(
        out.stdout.contains("--> values/streams/orders.yaml:3:11"),
        "{}",
        out.stdout
    );
}

#[cfg(unix)]
#[test]
fn a_schema_symlink_out_of_the_repository_was_ignored() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("s.json"), "{}").unwrap();
    let repo = Repo::with(&[]);
    std::fs::create_dir_all(repo.path().join("schemas")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("s.json"),
        repo.path().join("schemas/values.schema.json"),
    )
    .unwrap();
    let out = repo.sluice(&["lint"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout
            .contains("error[repo/outside-root]: `schemas/values.schema.json` resolves outside"),
        "{}",
        out.stdout
    );
}

#[test]
fn long_multibyte_names_counted_bytes() {
    let name = "ü".repeat(70);
    let repo = Repo::with(&[(
        "values/streams/x.yaml",
        Some(&format!("name: {name}\nmainClass: x\n")),
    )]);
    let out = repo.sluice(&["lint"]);
    assert!(
        out.stdout.contains("it is 70 characters long"),
        "{}",
        out.stdout
    );
}

#[test]
fn tojson_rendered_undefined_values_as_null() {
    let template = sluice::render::BUILTIN_TEMPLATE.replace(
        "mode: {{ derived.mode | tojson }}",
        "mode: {{ values.moed | tojson }}",
    );
    let repo = Repo::with(&[("templates/sparkapplication.yaml.j2", Some(&template))]);
    let out = repo.sluice(&["render", "--env", "dev"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("error[render/template]"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unreadable_kubeconfig_fell_back_to_the_in_cluster_account() {
    let repo = Repo::with(&[]);
    let out = assert_cmd::Command::cargo_bin("sluice")
        .unwrap()
        .arg("-C")
        .arg(repo.path())
        .args(["diff", "--env", "dev"])
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env("KUBERNETES_SERVICE_HOST", "10.0.0.1")
        .env("KUBERNETES_SERVICE_PORT", "443")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("cannot read KUBECONFIG"), "{stderr}");
}

#[test]
fn a_stream_each_environment_defines_in_its_own_list_was_not_rendered() {
    // Two definitions of `clicks`, one per environment: not a duplicate
    // (lint says so), yet render left the stream out of both, silently.
    let repo = Repo::with(&[
        (
            "values/environments/dev.yaml",
            Some(
                "namespace: streams-dev\nstreams:\n  - name: clicks\n    mainClass: com.example.Clicks\n",
            ),
        ),
        (
            "values/environments/prod.yaml",
            Some(
                "namespace: streams-prod\nstreams:\n  - name: clicks\n    mainClass: com.example.Clicks\n",
            ),
        ),
    ]);
    for env in ["dev", "prod"] {
        let names: Vec<String> = common::rendered(repo.path(), env, &[])
            .iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_owned())
            .collect();
        assert!(names.contains(&"clicks".to_owned()), "{env}: {names:?}");
    }
}
