//! A SparkApplication as a `spark-submit` invocation for Spark's native
//! Kubernetes mode (pure): the `spark.kubernetes.*` confs the spark-operator
//! itself passes to spark-submit when it submits the application (its
//! `submission.go`), and, for what the operator's webhook adds to the pods
//! and no conf can say (tolerations, affinity, sidecars, security contexts,
//! volumes of other kinds, ...), driver and executor pod template files.
//!
//! Every field of the CRD's spec is placed: carried by a conf or a flag,
//! by a pod template, or named as the operator's own (restarts, the UI
//! service, monitoring, ...), which native mode has no equivalent for.
//! `tests/spark_submit.rs` checks that against the upstream CRD.

use serde_json::{Map, Value, json};

/// The name of Spark's driver container in a pod template.
pub const DRIVER_CONTAINER: &str = "spark-kubernetes-driver";
/// The name of Spark's executor container in a pod template.
pub const EXECUTOR_CONTAINER: &str = "spark-kubernetes-executor";

/// Fields of the spec that only the operator acts on: native mode has no
/// equivalent, and the submission leaves them out.
pub const OPERATOR_ONLY: &[(&str, &str)] = &[
    (
        "restartPolicy",
        "the operator resubmits; spark-submit runs once",
    ),
    (
        "failureRetries",
        "the operator resubmits; spark-submit runs once",
    ),
    (
        "retryInterval",
        "the operator resubmits; spark-submit runs once",
    ),
    (
        "timeToLiveSeconds",
        "the operator deletes finished applications",
    ),
    (
        "suspend",
        "the operator suspends; a native run is stopped by deleting its driver pod",
    ),
    (
        "sparkUIOptions",
        "the operator creates the UI Service and Ingress",
    ),
    (
        "driverIngressOptions",
        "the operator creates the driver's Ingresses",
    ),
    (
        "monitoring",
        "the operator's JMX exporter (a ConfigMap it creates and mounts); natively, use Spark's PrometheusServlet sink in sparkConf",
    ),
    (
        "batchScheduler",
        "the operator's batch scheduler integration; natively, set spark.kubernetes.scheduler.name in sparkConf",
    ),
    (
        "batchSchedulerOptions",
        "the operator's batch scheduler integration",
    ),
    ("sparkVersion", "informational: the image decides"),
    ("type", "spark-submit infers it from the application file"),
];

/// Fields of a driver or executor spec that only the operator acts on.
pub const ROLE_OPERATOR_ONLY: &[(&str, &str)] = &[(
    "memoryLimit",
    "the operator's webhook sets it; natively Spark sets the limit to memory + overhead, over any template's",
)];

/// One spark-submit invocation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Submission {
    pub name: String,
    pub namespace: String,
    pub deploy_mode: String,
    pub main_class: Option<String>,
    /// `--jars`, `--packages`, ... with their comma-joined values.
    pub flags: Vec<(String, String)>,
    /// `--conf` settings, in order.
    pub confs: Vec<(String, String)>,
    pub application: Option<String>,
    pub arguments: Vec<String>,
    pub driver_template: Option<Value>,
    pub executor_template: Option<Value>,
    /// Spec fields left out, with why (see [`OPERATOR_ONLY`]).
    pub not_carried: Vec<String>,
}

/// Why a SparkApplication cannot be submitted natively.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct Unsupported(pub String);

/// A value as a conf's text: strings as they are, anything else as JSON.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn sorted(map: Option<&Value>) -> Vec<(&String, &Value)> {
    let mut items: Vec<(&String, &Value)> = map
        .and_then(Value::as_object)
        .map(|m| m.iter().collect())
        .unwrap_or_default();
    items.sort_by(|a, b| a.0.cmp(b.0));
    items
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| items.iter().map(text).collect())
        .unwrap_or_default()
}

/// The volume kinds Spark mounts from confs
/// (`spark.kubernetes.{driver,executor}.volumes.TYPE.NAME.*`).
fn conf_volume(volume: &Value) -> Option<(&'static str, Vec<(&'static str, String)>)> {
    let field = |kind: &str, key: &str| volume.pointer(&format!("/{kind}/{key}")).map(text);
    if let Some(dir) = volume.get("emptyDir") {
        let mut options = Vec::new();
        if let Some(size) = dir.get("sizeLimit") {
            options.push(("sizeLimit", text(size)));
        }
        if let Some(medium) = dir.get("medium") {
            options.push(("medium", text(medium)));
        }
        return Some(("emptyDir", options));
    }
    // Spark 3.3 reads no `type` of a hostPath: such a volume goes in the
    // pod template.
    if volume.get("hostPath").is_some() && field("hostPath", "type").is_none() {
        return Some((
            "hostPath",
            vec![("path", field("hostPath", "path").unwrap_or_default())],
        ));
    }
    if volume.get("nfs").is_some() {
        let options = vec![
            ("path", field("nfs", "path").unwrap_or_default()),
            ("server", field("nfs", "server").unwrap_or_default()),
        ];
        return Some(("nfs", options));
    }
    if volume.get("persistentVolumeClaim").is_some() {
        let options = vec![(
            "claimName",
            field("persistentVolumeClaim", "claimName").unwrap_or_default(),
        )];
        return Some(("persistentVolumeClaim", options));
    }
    None
}

/// A volume name for a ConfigMap: a DNS label (dots become dashes; a
/// long name is cut and given a hash of the whole).
fn configmap_volume(name: &str) -> String {
    let plain = format!("{}-vol", name.replace('.', "-"));
    if plain.len() <= 63 {
        return plain;
    }
    use sha2::Digest;
    let hash = sha2::Sha256::digest(name.as_bytes());
    let short: String = hash.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{}-{short}-vol", plain[..50].trim_end_matches('-'))
}

/// What one role (driver or executor) puts in its pod template.
#[derive(Default)]
struct Template {
    pod: Map<String, Value>,
    container: Map<String, Value>,
    volumes: Vec<Value>,
    mounts: Vec<Value>,
    env: Vec<Value>,
    containers: Vec<Value>,
}

impl Template {
    fn is_empty(&self) -> bool {
        self.pod.is_empty()
            && self.container.is_empty()
            && self.volumes.is_empty()
            && self.mounts.is_empty()
            && self.env.is_empty()
            && self.containers.is_empty()
    }

    /// The pod template: the CRD's own `template` of the role (if any)
    /// with what the fields add, as the operator's webhook adds them:
    /// lists are appended to (a volume, sidecar or init container of the
    /// same name once), and Spark's container is the one of its name, else
    /// a new first one (the template's containers are sidecars). Returns
    /// the template and that container's name.
    fn build(self, base: Option<&Value>, container_name: &str) -> (Value, String) {
        let mut pod = base
            .cloned()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        let root = pod.as_object_mut().expect("an object");
        root.entry("apiVersion").or_insert(json!("v1"));
        root.entry("kind").or_insert(json!("Pod"));
        let spec = root.entry("spec").or_insert_with(|| json!({}));
        if !spec.is_object() {
            *spec = json!({});
        }
        let spec = spec.as_object_mut().expect("an object");
        for (k, v) in self.pod {
            match v {
                Value::Array(items) => append(spec, &k, items),
                v => {
                    spec.insert(k, v);
                }
            }
        }
        let containers = spec.entry("containers").or_insert_with(|| json!([]));
        if !containers.is_array() {
            *containers = json!([]);
        }
        let list = containers.as_array_mut().expect("an array");
        let index = list
            .iter()
            .position(|c| c.get("name").and_then(Value::as_str) == Some(container_name))
            .unwrap_or_else(|| {
                // The template's containers are sidecars: Spark's goes first.
                list.insert(0, json!({"name": container_name}));
                0
            });
        if !list[index].is_object() {
            list[index] = json!({"name": container_name});
        }
        let main = list[index].as_object_mut().expect("a container");
        let main_name = main
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(container_name)
            .to_owned();
        for (k, v) in self.container {
            match (k.as_str(), v) {
                ("resources", Value::Object(extra)) => {
                    let resources = main.entry("resources").or_insert_with(|| json!({}));
                    if !resources.is_object() {
                        *resources = json!({});
                    }
                    let resources = resources.as_object_mut().expect("an object");
                    for (side, values) in extra {
                        let at = resources.entry(side).or_insert_with(|| json!({}));
                        if let (Some(at), Value::Object(values)) = (at.as_object_mut(), values) {
                            at.extend(values);
                        }
                    }
                }
                (_, Value::Array(items)) => append(main, &k, items),
                (_, v) => {
                    main.insert(k, v);
                }
            }
        }
        append(main, "env", self.env);
        // One volume may be mounted at several paths.
        if !self.mounts.is_empty() {
            let mounts = main.entry("volumeMounts").or_insert_with(|| json!([]));
            if !mounts.is_array() {
                *mounts = json!([]);
            }
            mounts.as_array_mut().expect("an array").extend(self.mounts);
        }
        append(spec, "containers", self.containers);
        append(spec, "volumes", self.volumes);
        (pod, main_name)
    }
}

/// Appends `items` to the list at `key` (null or missing: a new list),
/// skipping any whose `name` the list has already.
fn append(map: &mut Map<String, Value>, key: &str, items: Vec<Value>) {
    if items.is_empty() {
        return;
    }
    let at = map.entry(key).or_insert_with(|| json!([]));
    if !at.is_array() {
        *at = json!([]);
    }
    let list = at.as_array_mut().expect("an array");
    for item in items {
        let named = item.get("name").filter(|n| !n.is_null());
        if named.is_some_and(|n| list.iter().any(|i| i.get("name") == Some(n))) {
            continue;
        }
        list.push(item);
    }
}

/// The confs and pod template of one role.
fn role(app: &Value, role: &str, out: &mut Submission) -> Result<Option<Value>, Unsupported> {
    let spec = &app["spec"];
    let r = spec.get(role).cloned().unwrap_or_else(|| json!({}));
    let driver = role == "driver";
    // spark.kubernetes.driver.* / spark.kubernetes.executor.*
    let k8s = format!("spark.kubernetes.{role}");
    let mut conf = |k: String, v: String| out.confs.push((k, v));
    let image = r.get("image").or_else(|| spec.get("image"));
    if let Some(image) = image.filter(|i| !text(i).is_empty()) {
        conf(format!("{k8s}.container.image"), text(image));
    }
    if let Some(n) = r.get("instances").filter(|_| !driver) {
        conf("spark.executor.instances".into(), text(n));
    }
    let spark_role = if driver {
        "spark.driver"
    } else {
        "spark.executor"
    };
    if let Some(cores) = r.get("cores") {
        conf(format!("{spark_role}.cores"), text(cores));
    }
    if let Some(v) = r.get("coreRequest") {
        conf(format!("{k8s}.request.cores"), text(v));
    }
    if let Some(v) = r.get("coreLimit") {
        conf(format!("{k8s}.limit.cores"), text(v));
    }
    if let Some(v) = r.get("memory") {
        conf(format!("{spark_role}.memory"), text(v));
    }
    if let Some(v) = r.get("memoryOverhead") {
        conf(format!("{spark_role}.memoryOverhead"), text(v));
    }
    if let Some(v) = r.get("serviceAccount") {
        conf(
            format!("spark.kubernetes.authenticate.{role}.serviceAccountName"),
            text(v),
        );
    }
    if let Some(v) = r.get("deleteOnTermination").filter(|_| !driver) {
        conf(
            "spark.kubernetes.executor.deleteOnTermination".into(),
            text(v),
        );
    }
    if let Some(v) = r.get("javaOptions") {
        conf(format!("{spark_role}.extraJavaOptions"), text(v));
    }
    if let Some(v) = r.get("kubernetesMaster").filter(|_| driver) {
        conf("spark.kubernetes.driver.master".into(), text(v));
    }
    if let Some(v) = r.get("podName").filter(|_| driver) {
        conf("spark.kubernetes.driver.pod.name".into(), text(v));
    }
    // The application's labels reach both roles' pods, as the operator
    // propagates them.
    for (k, v) in sorted(app.pointer("/metadata/labels")) {
        conf(format!("{k8s}.label.{k}"), text(v));
    }
    for (k, v) in sorted(r.get("labels")) {
        conf(format!("{k8s}.label.{k}"), text(v));
    }
    for (k, v) in sorted(r.get("annotations")) {
        conf(format!("{k8s}.annotation.{k}"), text(v));
    }
    if driver {
        for (k, v) in sorted(r.get("serviceLabels")) {
            conf(
                format!("spark.kubernetes.driver.service.label.{k}"),
                text(v),
            );
        }
        for (k, v) in sorted(r.get("serviceAnnotations")) {
            conf(
                format!("spark.kubernetes.driver.service.annotation.{k}"),
                text(v),
            );
        }
    }
    let env_prefix = if driver {
        "spark.kubernetes.driverEnv".to_owned()
    } else {
        "spark.executorEnv".to_owned()
    };
    for (k, v) in sorted(r.get("envVars")) {
        conf(format!("{env_prefix}.{k}"), text(v));
    }
    for (k, v) in sorted(r.get("envSecretKeyRefs")) {
        let name = v.get("name").map(text).unwrap_or_default();
        let key = v.get("key").map(text).unwrap_or_default();
        conf(format!("{k8s}.secretKeyRef.{k}"), format!("{name}:{key}"));
    }
    for (k, v) in sorted(r.get("nodeSelector")) {
        conf(format!("{k8s}.node.selector.{k}"), text(v));
    }
    let mut template = Template::default();
    for secret in r
        .get("secrets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = secret.get("name").map(text).unwrap_or_default();
        let path = secret.get("path").map(text).unwrap_or_default();
        conf(format!("{k8s}.secrets.{name}"), path.clone());
        let file = match secret.get("secretType").and_then(Value::as_str) {
            Some("GCPServiceAccount") => Some(("GOOGLE_APPLICATION_CREDENTIALS", "key.json")),
            Some("HadoopDelegationToken") => Some(("HADOOP_TOKEN_FILE_LOCATION", "hadoop.token")),
            _ => None,
        };
        if let Some((var, file)) = file {
            conf(
                format!("{env_prefix}.{var}"),
                format!("{}/{file}", path.trim_end_matches('/')),
            );
        }
    }
    // `env`: plain values and Secret keys by conf, anything else (field
    // and ConfigMap references) in the template.
    for var in r.get("env").and_then(Value::as_array).into_iter().flatten() {
        let name = var.get("name").map(text).unwrap_or_default();
        match (var.get("value"), var.pointer("/valueFrom/secretKeyRef")) {
            (Some(value), None) if var.get("valueFrom").is_none() => {
                conf(format!("{env_prefix}.{name}"), text(value));
            }
            (None, Some(secret))
                if secret.get("optional").is_none()
                    && var
                        .pointer("/valueFrom")
                        .and_then(Value::as_object)
                        .map(Map::len)
                        == Some(1) =>
            {
                let secret_name = secret.get("name").map(text).unwrap_or_default();
                let key = secret.get("key").map(text).unwrap_or_default();
                conf(
                    format!("{k8s}.secretKeyRef.{name}"),
                    format!("{secret_name}:{key}"),
                );
            }
            _ => template.env.push(var.clone()),
        }
    }
    // Volumes: a mount names a volume of the spec's `volumes`.
    let volumes: Vec<&Value> = spec
        .get("volumes")
        .and_then(Value::as_array)
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    for mount in r
        .get("volumeMounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = mount.get("name").map(text).unwrap_or_default();
        let Some(volume) = volumes
            .iter()
            .find(|v| v.get("name").map(text) == Some(name.clone()))
        else {
            return Err(Unsupported(format!(
                "{role}.volumeMounts names volume `{name}`, which spec.volumes does not have"
            )));
        };
        // As the operator does: Spark's local-dir volumes by conf (Spark
        // uses them as its scratch space), every other volume as its
        // webhook would add it, in the template.
        let plain = name.starts_with("spark-local-dir-")
            && mount.as_object().is_some_and(|m| {
                m.keys()
                    .all(|k| ["name", "mountPath", "subPath", "readOnly"].contains(&k.as_str()))
            });
        match conf_volume(volume).filter(|_| plain) {
            Some((kind, options)) => {
                let base = format!("{k8s}.volumes.{kind}.{name}");
                if let Some(path) = mount.get("mountPath") {
                    conf(format!("{base}.mount.path"), text(path));
                }
                if let Some(sub) = mount.get("subPath") {
                    conf(format!("{base}.mount.subPath"), text(sub));
                }
                if mount.get("readOnly") == Some(&Value::Bool(true)) {
                    conf(format!("{base}.mount.readOnly"), "true".into());
                }
                for (option, value) in options {
                    conf(format!("{base}.options.{option}"), value);
                }
            }
            None => {
                template.volumes.push((*volume).clone());
                template.mounts.push(mount.clone());
            }
        }
    }
    // `configMaps`: each mounted at its path, as the operator's webhook does.
    for cm in r
        .get("configMaps")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = cm.get("name").map(text).unwrap_or_default();
        let volume = configmap_volume(&name);
        template
            .volumes
            .push(json!({"name": volume, "configMap": {"name": name}}));
        template.mounts.push(
            json!({"name": volume, "mountPath": cm.get("path").map(text).unwrap_or_default()}),
        );
    }
    // Pod-level fields, by the pod spec's names.
    for (field, pod_field) in [
        ("affinity", "affinity"),
        ("tolerations", "tolerations"),
        ("podSecurityContext", "securityContext"),
        ("hostNetwork", "hostNetwork"),
        ("hostAliases", "hostAliases"),
        ("dnsConfig", "dnsConfig"),
        ("schedulerName", "schedulerName"),
        ("priorityClassName", "priorityClassName"),
        ("shareProcessNamespace", "shareProcessNamespace"),
        (
            "terminationGracePeriodSeconds",
            "terminationGracePeriodSeconds",
        ),
        ("initContainers", "initContainers"),
    ] {
        if let Some(v) = r.get(field).filter(|v| !v.is_null()) {
            template.pod.insert(pod_field.into(), v.clone());
        }
    }
    // As the webhook does: a pod on the host network still resolves the
    // cluster's names (the driver's Service).
    if r.get("hostNetwork") == Some(&Value::Bool(true)) {
        template
            .pod
            .insert("dnsPolicy".into(), json!("ClusterFirstWithHostNet"));
    }
    // Container-level fields of Spark's own container.
    for field in ["securityContext", "lifecycle", "ports", "envFrom"] {
        if let Some(v) = r.get(field).filter(|v| !v.is_null()) {
            template.container.insert(field.into(), v.clone());
        }
    }
    if let Some(gpu) = r.get("gpu").filter(|g| {
        g.get("name").is_some_and(|n| !text(n).is_empty())
            && g.get("quantity")
                .and_then(Value::as_f64)
                .is_none_or(|q| q > 0.0)
    }) {
        let name = gpu.get("name").map(text).unwrap_or_default();
        let quantity = gpu.get("quantity").cloned().unwrap_or(json!(1));
        template
            .container
            .insert("resources".into(), json!({"limits": {name: quantity}}));
    }
    if let Some(sidecars) = r.get("sidecars").and_then(Value::as_array) {
        template.containers.extend(sidecars.iter().cloned());
    }
    let base = r.get("template").filter(|t| !t.is_null());
    if template.is_empty() && base.is_none() {
        return Ok(None);
    }
    let container = if driver {
        DRIVER_CONTAINER
    } else {
        EXECUTOR_CONTAINER
    };
    let (template, main) = template.build(base, container);
    out.confs
        .push((format!("{k8s}.podTemplateContainerName"), main));
    Ok(Some(template))
}

/// The fields of a driver or executor spec the translation places.
pub const ROLE_FIELDS: &[&str] = &[
    "image",
    "instances",
    "cores",
    "coreRequest",
    "coreLimit",
    "memory",
    "memoryOverhead",
    "serviceAccount",
    "deleteOnTermination",
    "javaOptions",
    "podName",
    "kubernetesMaster",
    "labels",
    "annotations",
    "serviceLabels",
    "serviceAnnotations",
    "envVars",
    "envSecretKeyRefs",
    "nodeSelector",
    "secrets",
    "env",
    "volumeMounts",
    "configMaps",
    "affinity",
    "tolerations",
    "podSecurityContext",
    "hostNetwork",
    "hostAliases",
    "dnsConfig",
    "schedulerName",
    "priorityClassName",
    "shareProcessNamespace",
    "terminationGracePeriodSeconds",
    "initContainers",
    "securityContext",
    "lifecycle",
    "ports",
    "envFrom",
    "gpu",
    "sidecars",
    "template",
];

/// The top-level spec fields the translation places.
pub const SPEC_FIELDS: &[&str] = &[
    "mode",
    "mainClass",
    "mainApplicationFile",
    "arguments",
    "image",
    "imagePullPolicy",
    "imagePullSecrets",
    "deps",
    "pythonVersion",
    "memoryOverheadFactor",
    "sparkConf",
    "hadoopConf",
    "hadoopConfigMap",
    "nodeSelector",
    "dynamicAllocation",
    "proxyUser",
    "volumes",
    "driver",
    "executor",
];

/// The spark-submit of a rendered SparkApplication.
pub fn submission(app: &Value) -> Result<Submission, Unsupported> {
    let spec = &app["spec"];
    let text_at = |p: &str| app.pointer(p).map(text);
    let mut out = Submission {
        name: text_at("/metadata/name").unwrap_or_default(),
        namespace: text_at("/metadata/namespace").unwrap_or_default(),
        deploy_mode: spec
            .get("mode")
            .map(text)
            .unwrap_or_else(|| "cluster".into()),
        main_class: spec.get("mainClass").map(text),
        application: spec.get("mainApplicationFile").map(text),
        arguments: strings(spec.get("arguments")),
        ..Default::default()
    };
    if spec.get("sparkConfigMap").is_some() {
        return Err(Unsupported(
            "spec.sparkConfigMap: native mode cannot mount a Spark configuration ConfigMap; put the settings in sparkConf".into(),
        ));
    }
    if out.deploy_mode != "cluster" {
        return Err(Unsupported(format!(
            "spec.mode `{}`: only cluster mode runs the driver in the cluster, as the SparkApplication does",
            out.deploy_mode
        )));
    }
    if out.application.is_none() {
        return Err(Unsupported(
            "spec.mainApplicationFile is not set: spark-submit needs the application file".into(),
        ));
    }
    if let Some(key) = spec
        .as_object()
        .into_iter()
        .flat_map(|m| m.keys())
        .find(|k| !SPEC_FIELDS.contains(&k.as_str()) && !OPERATOR_ONLY.iter().any(|(f, _)| f == k))
    {
        return Err(Unsupported(format!(
            "spec.{key} has no spark-submit equivalent that sluice knows"
        )));
    }
    for role_name in ["driver", "executor"] {
        if let Some(key) = spec
            .get(role_name)
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|m| m.keys())
            .find(|k| {
                !ROLE_FIELDS.contains(&k.as_str())
                    && !ROLE_OPERATOR_ONLY.iter().any(|(f, _)| f == k)
            })
        {
            return Err(Unsupported(format!(
                "spec.{role_name}.{key} has no spark-submit equivalent that sluice knows"
            )));
        }
    }
    out.not_carried = OPERATOR_ONLY
        .iter()
        .filter(|(f, _)| spec.get(*f).is_some())
        .map(|(f, why)| format!("{f} ({why})"))
        .chain(["driver", "executor"].iter().flat_map(|role_name| {
            ROLE_OPERATOR_ONLY
                .iter()
                .filter(move |(f, _)| spec.pointer(&format!("/{role_name}/{f}")).is_some())
                .map(move |(f, why)| format!("{role_name}.{f} ({why})"))
        }))
        .collect();

    for (key, flag) in [
        ("jars", "--jars"),
        ("packages", "--packages"),
        ("excludePackages", "--exclude-packages"),
        ("repositories", "--repositories"),
        ("pyFiles", "--py-files"),
        ("files", "--files"),
        ("archives", "--archives"),
    ] {
        let items = strings(spec.pointer(&format!("/deps/{key}")));
        if !items.is_empty() {
            out.flags.push((flag.to_owned(), items.join(",")));
        }
    }
    let mut conf = |k: &str, v: String| out.confs.push((k.to_owned(), v));
    conf("spark.kubernetes.namespace", out.namespace.clone());
    if let Some(image) = spec.get("image").filter(|i| !text(i).is_empty()) {
        conf("spark.kubernetes.container.image", text(image));
    }
    if let Some(v) = spec.get("imagePullPolicy") {
        conf("spark.kubernetes.container.image.pullPolicy", text(v));
    }
    let secrets = strings(spec.get("imagePullSecrets"));
    if !secrets.is_empty() {
        conf(
            "spark.kubernetes.container.image.pullSecrets",
            secrets.join(","),
        );
    }
    if let Some(v) = spec.get("pythonVersion") {
        conf("spark.kubernetes.pyspark.pythonVersion", text(v));
    }
    if let Some(v) = spec.get("memoryOverheadFactor") {
        conf("spark.kubernetes.memoryOverheadFactor", text(v));
    }
    conf(
        "spark.kubernetes.submission.waitAppCompletion",
        "false".into(),
    );
    // The operator names the driver pod `<name>-driver`; so does this.
    if spec.pointer("/driver/podName").is_none()
        && spec
            .get("sparkConf")
            .is_none_or(|c| c.get("spark.kubernetes.driver.pod.name").is_none())
    {
        conf(
            "spark.kubernetes.driver.pod.name",
            format!("{}-driver", out.name),
        );
    }
    for (k, v) in sorted(spec.get("sparkConf")) {
        conf(k, text(v));
    }
    for (k, v) in sorted(spec.get("hadoopConf")) {
        conf(&format!("spark.hadoop.{k}"), text(v));
    }
    if let Some(v) = spec.get("hadoopConfigMap") {
        conf("spark.kubernetes.hadoop.configMapName", text(v));
    }
    for (k, v) in sorted(spec.get("nodeSelector")) {
        conf(&format!("spark.kubernetes.node.selector.{k}"), text(v));
    }
    if let Some(dynamic) = spec
        .get("dynamicAllocation")
        .filter(|d| d.get("enabled") == Some(&Value::Bool(true)))
    {
        conf("spark.dynamicAllocation.enabled", "true".into());
        for (key, name) in [
            ("initialExecutors", "initialExecutors"),
            ("minExecutors", "minExecutors"),
            ("maxExecutors", "maxExecutors"),
        ] {
            if let Some(v) = dynamic.get(key) {
                conf(&format!("spark.dynamicAllocation.{name}"), text(v));
            }
        }
        conf(
            "spark.dynamicAllocation.shuffleTracking.enabled",
            dynamic
                .get("shuffleTrackingEnabled")
                .map_or("true".to_owned(), text),
        );
        if let Some(v) = dynamic.get("shuffleTrackingTimeout") {
            conf("spark.dynamicAllocation.shuffleTracking.timeout", text(v));
        }
    }
    if let Some(user) = spec.get("proxyUser") {
        out.flags.push(("--proxy-user".into(), text(user)));
    }
    out.driver_template = role(app, "driver", &mut out)?;
    out.executor_template = role(app, "executor", &mut out)?;
    Ok(out)
}

/// One word for a POSIX shell, quoted when it needs to be.
pub fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@%+".contains(&b))
    {
        return word.to_owned();
    }
    format!("'{}'", word.replace('\'', "'\\''"))
}

impl Submission {
    /// The words of the command after `spark-submit`, before the
    /// application file: `--master` first, then the flags, then the confs
    /// unless `confs` is false.
    pub fn words(&self, master: &str, confs: bool) -> Vec<String> {
        let mut words = vec![
            "--master".to_owned(),
            master.to_owned(),
            "--deploy-mode".to_owned(),
            self.deploy_mode.clone(),
            "--name".to_owned(),
            self.name.clone(),
        ];
        if let Some(class) = &self.main_class {
            words.extend(["--class".to_owned(), class.clone()]);
        }
        for (flag, value) in &self.flags {
            words.extend([flag.clone(), value.clone()]);
        }
        if confs {
            for (k, v) in &self.confs {
                words.extend(["--conf".to_owned(), format!("{k}={v}")]);
            }
        }
        words
    }

    /// The application file and its arguments.
    pub fn tail(&self) -> Vec<String> {
        self.application
            .iter()
            .cloned()
            .chain(self.arguments.iter().cloned())
            .collect()
    }
}

/// `words` (shell text, already quoted) as one shell command, one option
/// and its value per line up to `tail_from`, then one word per line.
pub fn command_lines(program: &str, words: &[String], tail_from: usize) -> String {
    let mut out = program.to_owned();
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        let takes_value = i < tail_from && word.starts_with("--") && i + 1 < tail_from;
        if takes_value {
            out.push_str(&format!(" \\\n  {word} {}", words[i + 1]));
            i += 2;
        } else {
            out.push_str(&format!(" \\\n  {word}"));
            i += 1;
        }
    }
    out.push('\n');
    out
}

/// A Java properties file of the confs that a properties file keeps as
/// they are (spark-submit trims each value it reads from one); the others
/// are returned to go on the command line.
pub fn properties(confs: &[(String, String)]) -> (String, Vec<(String, String)>) {
    let escape = |s: &str, key: bool| {
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{c}' => out.push_str("\\f"),
                '=' | ':' if key => {
                    out.push('\\');
                    out.push(c);
                }
                ' ' if key || i == 0 => out.push_str("\\ "),
                '#' | '!' if i == 0 => {
                    out.push('\\');
                    out.push(c);
                }
                c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                    for unit in c.encode_utf16(&mut [0; 2]) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
                c => out.push(c),
            }
        }
        out
    };
    // The last setting of a key wins, as on a command line: once in the
    // file or on the command line, never both (the command line would win).
    let mut last: Vec<&(String, String)> = Vec::new();
    for c in confs {
        last.retain(|(k, _)| k != &c.0);
        last.push(c);
    }
    let mut file = String::new();
    let mut rest = Vec::new();
    for (k, v) in last {
        // Java's String.trim: every character up to U+0020.
        if v.trim_matches(|c: char| c <= ' ') != v {
            rest.push((k.clone(), v.clone()));
        } else {
            file.push_str(&format!("{}={}\n", escape(k, true), escape(v, false)));
        }
    }
    (file, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_a_shell() {
        for word in [
            "plain",
            "with space",
            "it's",
            "$HOME",
            "a\nb",
            "",
            "`x`",
            "\"q\"",
            "a\\b",
        ] {
            let quoted = quote(word);
            let out = std::process::Command::new("sh")
                .args(["-c", &format!("printf %s {quoted}")])
                .output()
                .expect("sh runs");
            assert_eq!(String::from_utf8(out.stdout).unwrap(), word, "{quoted}");
        }
    }

    fn app(driver: Value) -> Value {
        json!({"apiVersion": "sparkoperator.k8s.io/v1beta2", "kind": "SparkApplication",
               "metadata": {"name": "orders", "namespace": "ns"},
               "spec": {"mode": "cluster", "mainApplicationFile": "local:///a.jar",
                        "volumes": [{"name": "data", "configMap": {"name": "app.config"}}],
                        "driver": driver}})
    }

    #[test]
    fn a_template_is_merged_into_as_the_webhook_merges() {
        let s = submission(&app(json!({
            "template": {"spec": {
                "tolerations": [{"key": "gpu", "operator": "Exists"}],
                "containers": [{"name": "main", "volumeMounts": null}, {"name": "shipper", "image": "s"}],
            }},
            "tolerations": [{"key": "dedicated", "operator": "Exists"}],
            "sidecars": [{"name": "shipper", "image": "s"}],
            "volumeMounts": [{"name": "data", "mountPath": "/a"}, {"name": "data", "mountPath": "/b"}],
            "hostNetwork": true,
            "gpu": {"name": "nvidia.com/gpu", "quantity": 1},
        })))
        .unwrap();
        let t = s.driver_template.unwrap();
        let spec = &t["spec"];
        assert_eq!(
            spec["tolerations"].as_array().unwrap().len(),
            2,
            "appended: {t:#}"
        );
        // Spark's, the template's `main` and `shipper` (once).
        assert_eq!(
            spec["containers"].as_array().unwrap().len(),
            3,
            "the sidecar once: {t:#}"
        );
        assert_eq!(spec["containers"][1]["name"], "main");
        assert_eq!(
            spec["containers"][0]["volumeMounts"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            spec["volumes"].as_array().unwrap().len(),
            1,
            "the volume once"
        );
        assert_eq!(spec["dnsPolicy"], "ClusterFirstWithHostNet");
        assert_eq!(
            spec["containers"][0]["resources"]["limits"]["nvidia.com/gpu"],
            1
        );
        assert!(
            s.confs.contains(&(
                "spark.kubernetes.driver.podTemplateContainerName".into(),
                "spark-kubernetes-driver".into()
            )),
            "Spark's own container goes first: {:?}",
            s.confs
        );
    }

    #[test]
    fn configmap_volume_names_are_dns_labels() {
        assert_eq!(configmap_volume("app.config"), "app-config-vol");
        let long = configmap_volume(&"x".repeat(80));
        assert!(long.len() <= 63 && long.ends_with("-vol"), "{long}");
        assert_ne!(long, configmap_volume(&"x".repeat(81)));
    }

    #[test]
    fn client_mode_and_no_application_file_are_refused() {
        let mut a = app(json!({}));
        a["spec"]["mode"] = json!("client");
        assert!(submission(&a).unwrap_err().0.contains("cluster mode"));
        let mut a = app(json!({}));
        a["spec"]
            .as_object_mut()
            .unwrap()
            .remove("mainApplicationFile");
        assert!(
            submission(&a)
                .unwrap_err()
                .0
                .contains("mainApplicationFile")
        );
    }

    #[test]
    fn the_last_setting_of_a_key_wins_in_one_place() {
        let (file, rest) = properties(&[
            ("spark.x".into(), "-Dx=1 ".into()),
            ("spark.x".into(), "-Dy=2".into()),
        ]);
        assert_eq!((file.as_str(), rest.len()), ("spark.x=-Dy=2\n", 0));
    }

    #[test]
    fn properties_escape_what_java_would_read_otherwise() {
        let (file, rest) = properties(&[
            ("spark.a".into(), "x=y:z".into()),
            ("spark.b".into(), "line1\nline2".into()),
            ("spark.c".into(), " padded ".into()),
            ("k:e y".into(), "é".into()),
        ]);
        assert_eq!(
            file,
            "spark.a=x=y:z\nspark.b=line1\\nline2\nk\\:e\\ y=\\u00e9\n"
        );
        assert_eq!(rest, [("spark.c".to_owned(), " padded ".to_owned())]);
    }
}
