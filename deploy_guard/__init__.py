"""deploy_guard"""
