"""The REST API source type: systems declared in ``sources.yml`` with dlt's ``RESTAPIConfig``.

``source.py`` holds the ``@dlt.source`` function, ``helpers.py`` turns a declaration into dlt's
config, ``hooks.py`` the response hooks, ``settings.py`` the typed settings. Importing this
package imports no dlt: the sources file is checked before dlt is loaded.
"""
