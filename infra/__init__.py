"""Azure as code: the Pulumi app program (this package) and the bootstrap project (bootstrap/).

The app stack builds the service image (or takes one by digest), pushes it to a private
registry and runs it on Azure Container Instances or, with `platform: containerapps`, on Azure
Container Apps; `python -m` is not how it runs: Pulumi runs `infra/__main__.py`.
"""
