//! `sluice rbac` against the real API server: a deploy job bound to exactly
//! the printed Role can diff, apply, prune and read status (impersonating
//! its service account), and each verb it grants is needed.

mod common;

use common::cluster::{Env, kubeconfig};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::config::Kubeconfig;
use serde_json::{Value, json};

/// Applies (as admin) every object of `sluice rbac`'s JSON output, with
/// `edit` applied to the Role's rules first.
async fn grant(env: &Env, edit: impl Fn(&mut Vec<Value>)) {
    let out = env
        .repo
        .sluice(&["rbac", "--env", "dev", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let list: Value = serde_json::from_str(&out.stdout).unwrap();
    for mut item in list["items"].as_array().unwrap().clone() {
        let kind = item["kind"].as_str().unwrap().to_owned();
        if kind == "Role" {
            let mut rules = item["rules"].as_array().unwrap().clone();
            edit(&mut rules);
            item["rules"] = json!(rules);
        }
        let plural = format!("{}s", kind.to_ascii_lowercase());
        let resource = kube::api::ApiResource {
            group: "rbac.authorization.k8s.io".into(),
            version: "v1".into(),
            api_version: "rbac.authorization.k8s.io/v1".into(),
            kind: kind.clone(),
            plural,
        };
        let api: Api<DynamicObject> = Api::namespaced_with(env.client.clone(), &env.dev, &resource);
        let name = item["metadata"]["name"].as_str().unwrap().to_owned();
        api.patch(
            &name,
            &PatchParams::apply("test").force(),
            &Patch::Apply(&item),
        )
        .await
        .unwrap();
    }
}

/// A kubeconfig whose context `deployer` is the admin user impersonating
/// the deploy job's service account.
fn deployer_kubeconfig(env: &Env) -> std::path::PathBuf {
    let mut config = Kubeconfig::read_from(&env.kubeconfig).unwrap();
    let admin = config
        .auth_infos
        .iter()
        .find(|a| a.name == "admin")
        .unwrap()
        .clone();
    let mut deployer = admin.clone();
    deployer.name = "deployer".into();
    if let Some(info) = deployer.auth_info.as_mut() {
        info.impersonate = Some(format!("system:serviceaccount:{}:sluice-deployer", env.dev));
    }
    config.auth_infos.push(deployer);
    let mut context = config
        .contexts
        .iter()
        .find(|c| c.name == "admin")
        .unwrap()
        .clone();
    context.name = "deployer".into();
    if let Some(c) = context.context.as_mut() {
        c.user = Some("deployer".into());
    }
    config.contexts.push(context);
    config.current_context = Some("deployer".into());
    let path = env.repo.path().join("deployer.kubeconfig");
    std::fs::write(&path, serde_json::to_string(&config).unwrap()).unwrap();
    path
}

fn as_deployer(env: &Env, kubeconfig: &std::path::Path, args: &[&str]) -> common::Output {
    let mut all = args.to_vec();
    all.extend(["--kubeconfig", kubeconfig.to_str().unwrap()]);
    env.repo.sluice(&all)
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn the_printed_role_is_enough_and_every_verb_is_needed() {
    let kc = kubeconfig();
    let env = Env::new(kc).await;
    env.write(
        "values/environments/dev.yaml",
        &format!("namespace: {}\nkubeContext: deployer\n", env.dev),
    );
    let deployer = deployer_kubeconfig(&env);
    // Without any grant: refused in the dry run, nothing written.
    let out = as_deployer(&env, &deployer, &["apply", "--env", "dev"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("forbidden (403)"), "{}", out.stderr);

    grant(&env, |_| {}).await;
    for args in [
        &["diff", "--env", "dev"][..],
        &["apply", "--env", "dev"],
        &["apply", "--env", "dev"],
        &["status", "--env", "dev"],
    ] {
        let out = as_deployer(&env, &deployer, args);
        assert_eq!(out.code, 0, "{args:?}: {}{}", out.stdout, out.stderr);
    }
    assert_eq!(env.names(&env.dev).await, ["orders", "payments"]);
    std::fs::remove_file(env.repo.path().join("values/streams/payments.yaml")).unwrap();

    // Without delete, the prune is refused in the dry run: nothing written.
    grant(&env, |rules| {
        for r in rules.iter_mut() {
            r["verbs"] = json!(["get", "list", "create", "patch"]);
        }
    })
    .await;
    let out = as_deployer(&env, &deployer, &["apply", "--env", "dev", "--prune"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("may not delete"), "{}", out.stderr);
    assert_eq!(env.names(&env.dev).await, ["orders", "payments"]);

    // With the printed Role again, the prune goes through.
    grant(&env, |_| {}).await;
    let out = as_deployer(&env, &deployer, &["apply", "--env", "dev", "--prune"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(env.names(&env.dev).await, ["orders"]);

    // Without create, a new stream cannot be created.
    grant(&env, |rules| {
        for r in rules.iter_mut() {
            r["verbs"] = json!(["get", "list", "patch", "delete"]);
        }
    })
    .await;
    env.write(
        "values/streams/billing.yaml",
        "mainClass: com.example.Billing\nsink: s3a://lake/billing\n",
    );
    let out = as_deployer(&env, &deployer, &["apply", "--env", "dev"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(env.names(&env.dev).await, ["orders"]);

    // Without get (the ApplySet parent), list (the plan) or patch (every
    // write), even a diff or a changed stream fails, cleanly.
    for (missing, args) in [
        ("get", &["diff", "--env", "dev"][..]),
        ("list", &["diff", "--env", "dev"]),
        (
            "patch",
            &["apply", "--env", "dev", "--set", "executor.instances=3"],
        ),
    ] {
        grant(&env, |rules| {
            let verbs: Vec<&str> = ["get", "list", "create", "patch", "delete"]
                .into_iter()
                .filter(|v| *v != missing)
                .collect();
            for r in rules.iter_mut() {
                r["verbs"] = json!(verbs);
            }
        })
        .await;
        let out = as_deployer(&env, &deployer, args);
        assert_eq!(out.code, 3, "without {missing}: {}", out.stderr);
        assert!(
            out.stderr.contains("forbidden (403)"),
            "without {missing}: {}",
            out.stderr
        );
    }
}
