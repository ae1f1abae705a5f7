"""
Unit tests of the openstack execution module with Salt's loader mocks and
openstacksdk's connection replaced by a mock: which SDK calls each function
makes, and how SDK failures become CommandExecutionError. Keystone itself is
exercised by the end-to-end test on the local lab.
"""

import sys
from types import SimpleNamespace
from unittest.mock import MagicMock, patch

import openstack
import openstack.exceptions
import pytest
from salt.exceptions import CommandExecutionError

import extensions

module = extensions.load("_modules", "openstack_lab")


def resource(**fields):
    """An SDK resource: attributes and item access."""
    obj = MagicMock()
    obj.__getitem__.side_effect = fields.__getitem__
    for key, value in fields.items():
        setattr(obj, key, value)
    return obj


@pytest.fixture
def conn():
    conn = MagicMock()
    conn.identity.find_domain.return_value = resource(id="default", name="Default")
    return conn


@pytest.fixture
def configure_loader_modules(conn):
    config = {"openstack:cloud": "lab-admin"}
    return {module: {"__salt__": {"config.get": lambda key, default=None: config.get(key, default)},
                     "__context__": {}}}


@pytest.fixture(autouse=True)
def connect(conn):
    with patch.object(openstack, "connect", return_value=conn) as connect:
        yield connect


def test_without_the_sdk_a_call_says_what_to_install():
    assert module.__virtual__() == "openstack"
    with patch.dict(sys.modules, {"openstack": None}):
        with pytest.raises(CommandExecutionError, match="openstacksdk is not installed .Debian: python3-openstacksdk"):
            module.project_get("demo")


def test_one_connection_per_cloud_from_the_minion_config(connect, conn):
    conn.identity.find_project.return_value = None
    module.project_get("demo")
    module.project_get("service")
    module.project_get("demo", cloud="other")
    assert [call.kwargs for call in connect.call_args_list] == [{"cloud": "lab-admin"}, {"cloud": "other"}]


def test_bad_cloud_is_a_clear_error(connect):
    connect.side_effect = openstack.exceptions.ConfigException("Cloud lab-admin was not found.")
    with pytest.raises(CommandExecutionError, match="cloud lab-admin: Cloud lab-admin was not found"):
        module.project_get("demo")


def test_project_get_in_a_domain(conn):
    conn.identity.find_project.return_value = resource(id="p1", name="demo", description="d", is_enabled=True)
    assert module.project_get("demo") == {"id": "p1", "name": "demo", "description": "d", "is_enabled": True}
    conn.identity.find_project.assert_called_once_with("demo", domain_id="default", ignore_missing=True)


def test_unknown_domain(conn):
    conn.identity.find_domain.return_value = None
    with pytest.raises(CommandExecutionError, match="domain nowhere does not exist"):
        module.project_create("demo", domain="nowhere")
    conn.identity.create_project.assert_not_called()


def test_api_error_carries_what_was_attempted(conn):
    conn.identity.find_project.return_value = None
    conn.identity.create_project.side_effect = openstack.exceptions.ForbiddenException("403: You are not authorized")
    with pytest.raises(CommandExecutionError, match="creating project demo: 403: You are not authorized"):
        module.project_create("demo")


def test_update_ignores_salts_own_arguments(conn):
    project = resource(id="p1", name="demo", description="old", is_enabled=True)
    conn.identity.find_project.return_value = project
    conn.identity.update_project.return_value = resource(id="p1", name="demo", description="new", is_enabled=True)
    module.project_update("demo", description="new", __pub_jid="2026")
    conn.identity.update_project.assert_called_once_with(project, description="new")


def test_user_created_in_its_default_project(conn):
    conn.identity.find_project.return_value = resource(id="p-service", name="service")
    conn.identity.create_user.return_value = resource(id="u1", name="glance", is_enabled=True,
                                                      default_project_id="p-service")
    assert module.user_create("glance", "pw", default_project="service") == {
        "id": "u1", "name": "glance", "is_enabled": True, "default_project": "service"}
    conn.identity.create_user.assert_called_once_with(
        name="glance", password="pw", domain_id="default", is_enabled=True, default_project_id="p-service")


def test_user_in_a_missing_project_is_refused(conn):
    conn.identity.find_project.return_value = None
    with pytest.raises(CommandExecutionError, match="project service does not exist"):
        module.user_create("glance", "pw", default_project="service")
    conn.identity.create_user.assert_not_called()


@pytest.mark.parametrize("status, valid", [(201, True), (401, False)])
def test_password_checked_by_asking_for_a_token(conn, status, valid):
    conn.identity.post.return_value = SimpleNamespace(status_code=status, text="")
    assert module.user_password_valid("glance", "pw") is valid
    args, kwargs = conn.identity.post.call_args
    assert args == ("/auth/tokens",)
    assert kwargs["authenticated"] is False and kwargs["raise_exc"] is False
    assert kwargs["json"]["auth"]["identity"] == {"methods": ["password"], "password": {"user": {
        "name": "glance", "domain": {"id": "default"}, "password": "pw"}}}


def test_password_check_on_a_failing_keystone_is_an_error(conn):
    conn.identity.post.return_value = SimpleNamespace(status_code=500, text="Internal Server Error")
    with pytest.raises(CommandExecutionError, match="authenticating user glance: HTTP 500"):
        module.user_password_valid("glance", "pw")


def test_role_grant_resolves_names(conn):
    role, user, project = resource(id="r"), resource(id="u"), resource(id="p")
    conn.identity.find_role.return_value = role
    conn.identity.find_user.return_value = user
    conn.identity.find_project.return_value = project
    conn.identity.validate_user_has_project_role.return_value = False
    assert module.role_granted("admin", "glance", "service") is False
    module.role_grant("admin", "glance", "service")
    conn.identity.assign_project_role_to_user.assert_called_once_with(project, user, role)


def test_missing_role_is_named(conn):
    conn.identity.find_role.return_value = None
    with pytest.raises(CommandExecutionError, match="role reader does not exist"):
        module.role_grant("reader", "glance", "service")


def test_duplicate_service_names_are_an_error(conn):
    conn.identity.services.return_value = [resource(id="s1", name="glance"), resource(id="s2", name="glance")]
    with pytest.raises(CommandExecutionError, match="2 services are named glance"):
        module.service_get("glance")


def test_endpoint_looked_up_by_service_interface_and_region(conn):
    conn.identity.services.return_value = [resource(id="s-nova", name="nova"),
                                           resource(id="s-glance", name="glance")]
    conn.identity.endpoints.return_value = iter([resource(id="e1", url="http://c:9292", is_enabled=True)])
    assert module.endpoint_get("glance", "public") == {"id": "e1", "url": "http://c:9292", "is_enabled": True}
    conn.identity.endpoints.assert_called_once_with(service_id="s-glance", interface="public",
                                                    region_id="RegionOne")


def test_endpoint_of_a_missing_service(conn):
    conn.identity.services.return_value = []
    with pytest.raises(CommandExecutionError, match="service glance does not exist"):
        module.endpoint_create("glance", "public", "http://c:9292")


def test_network_created_with_provider_fields(conn):
    conn.network.create_network.return_value = resource(
        id="n1", name="public", provider_network_type="flat", provider_physical_network="physnet",
        is_router_external=True, is_shared=False, mtu=1410)
    assert module.network_create("public", provider_network_type="flat", provider_physical_network="physnet",
                                 is_router_external=True)["mtu"] == 1410
    conn.network.create_network.assert_called_once_with(
        name="public", provider_network_type="flat", provider_physical_network="physnet", is_router_external=True)
