"""Common library of the Tell-Once Forms Hub.

Only what every service needs lives here (settings, errors, logging, database helpers,
token verification, health and metrics); domain logic belongs in its service.
"""
